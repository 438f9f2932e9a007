"""Checks shared by the tests of normkit networks against their PyTorch twins
(test_vgg.py, test_vit.py)."""

import numpy as np
import torch


def load_ours_into(twin, ours):
    """Copies normkit's state dict into the twin, after checking the keys match."""
    state = ours.state_dict()
    assert list(state) == list(twin.state_dict())
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})


def assert_same_logits_and_gradients(ours, twin, images, dy):
    """One forward and backward in both: the same logits, and every parameter's
    gradient under its state-dict key."""
    logits = ours.forward(images)
    want = twin(torch.from_numpy(images))
    np.testing.assert_allclose(logits, want.detach().numpy(), rtol=1e-4, atol=1e-5)
    ours.backward(dy)
    want.backward(torch.from_numpy(dy))
    for key, parameter in twin.named_parameters():
        np.testing.assert_allclose(ours.grad(key), parameter.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=key)
