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


def as_needed(ctx, *grads):
    """A backward's results: each input's gradient where autograd asks for
    it (ctx.needs_input_grad), else None; inputs past `grads` get None."""
    padded = grads + (None,) * (len(ctx.needs_input_grad) - len(grads))
    return tuple(g if needed else None for g, needed in zip(padded, ctx.needs_input_grad))
