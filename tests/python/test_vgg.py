"""VGG of normkit.models.make_model('vgg', ...) against its PyTorch twin
(vgg_twin.py): the same state-dict keys, and for the same weights the same
logits, parameter gradients and running statistics, in training mode (BN on
the batch's statistics) and in eval mode."""

import numpy as np
import pytest
import torch

import normkit.models
from twin_checks import assert_same_logits_and_gradients, load_ours_into
from vgg_twin import torch_vgg


@pytest.mark.parametrize("depth,norm", [(4, "bn"), (8, "bn"), (4, "none")])
def test_the_twin_gives_the_same_logits_gradients_and_statistics(depth, norm):
    torch.set_num_threads(2)
    ours = normkit.models.make_model("vgg", norm, seed=4, depth=depth)
    twin = torch_vgg(depth, norm)
    load_ours_into(twin, ours)
    rng = np.random.default_rng(depth)
    images = rng.random((6, 1, 28, 28), dtype=np.float32)
    dy = rng.normal(0, 1, (6, 10)).astype(np.float32)
    assert_same_logits_and_gradients(ours, twin, images, dy)
    for key, buffer in twin.named_buffers():  # the running statistics one training forward moved
        if buffer.dtype == torch.float32:
            np.testing.assert_allclose(np.array(ours.state_dict()[key]), buffer.numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=key)
    ours.eval()
    twin.eval()
    with torch.no_grad():
        want = twin(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(ours.forward(images), want, rtol=1e-4, atol=1e-5)
