"""Helpers shared by normkit.torch's autograd functions and its
torch.library operators."""

import torch

import normkit as _nk


def follow_torch_threads():
    """normkit's kernels run on as many threads as torch's (their results do
    not depend on the count)."""
    n = torch.get_num_threads()
    if n != _nk.num_threads():
        _nk.set_num_threads(n)


def grad_if(t, needed):
    """t where autograd asks for the input's gradient, else None."""
    return t if needed else None
