"""VGG of normkit.models.make_model('vgg', ...) against its PyTorch twin
(vgg_twin.py): the same state-dict keys, and for the same weights the same
logits, parameter gradients and running statistics, in training mode (BN on
the batch's statistics) and in eval mode."""

import numpy as np
import pytest
import torch

import normkit
import normkit.models
from vgg_twin import torch_vgg


@pytest.mark.parametrize("depth,norm", [(4, "bn"), (8, "bn"), (4, "none")])
def test_the_twin_gives_the_same_logits_gradients_and_statistics(depth, norm):
    torch.set_num_threads(2)
    ours = normkit.models.make_model("vgg", norm, seed=4, depth=depth)
    twin = torch_vgg(depth, norm)
    state = ours.state_dict()
    assert list(state) == list(twin.state_dict())
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    rng = np.random.default_rng(depth)
    images = rng.random((6, 1, 28, 28), dtype=np.float32)
    dy = rng.normal(0, 1, (6, 10)).astype(np.float32)
    logits = ours.forward(images)
    want = twin(torch.from_numpy(images))
    np.testing.assert_allclose(logits, want.detach().numpy(), rtol=1e-4, atol=1e-5)
    ours.backward(dy)
    want.backward(torch.from_numpy(dy))
    for key, parameter in twin.named_parameters():
        np.testing.assert_allclose(ours.grad(key), parameter.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=key)
    for key, buffer in twin.named_buffers():  # the running statistics one training forward moved
        if buffer.dtype == torch.float32:
            np.testing.assert_allclose(np.array(ours.state_dict()[key]), buffer.numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=key)
    ours.eval()
    twin.eval()
    with torch.no_grad():
        want = twin(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(ours.forward(images), want, rtol=1e-4, atol=1e-5)
