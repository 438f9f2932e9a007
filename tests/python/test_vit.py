"""The ViT of normkit.models.make_model('vit', ...) against its PyTorch twin,
a torch.nn.Sequential of the same layers (torch.nn.TransformerEncoderLayer
for the blocks): the same state-dict keys, and for the same weights the same
logits and parameter gradients, pre- and post-norm."""

import numpy as np
import pytest
import torch

import normkit
import normkit.models
from twin_checks import assert_same_logits_and_gradients, load_ours_into
from vit_twin import torch_vit


@pytest.mark.parametrize("form", ["pre", "post"])
def test_the_twin_gives_the_same_logits_and_gradients(form):
    ours = normkit.models.make_model("vit", "ln", seed=3, depth=2, dim=16, heads=2, patch=7, form=form)
    twin = torch_vit(2, 16, 2, 7, 2, form == "pre")
    load_ours_into(twin, ours)
    rng = np.random.default_rng(0)
    images = rng.normal(0, 1, (5, 1, 28, 28)).astype(np.float32)
    dy = rng.normal(0, 1, (5, 10)).astype(np.float32)
    assert_same_logits_and_gradients(ours, twin, images, dy)


def test_with_dropout_the_twin_agrees_in_eval_mode_and_training_drops():
    ours = normkit.models.make_model("vit", "ln", seed=3, depth=2, dim=16, heads=2, patch=7, dropout=0.2)
    twin = torch_vit(2, 16, 2, 7, 2, True, dropout=0.2)
    load_ours_into(twin, ours)  # Dropout holds no tensors, in both
    images = np.random.default_rng(1).normal(0, 1, (4, 1, 28, 28)).astype(np.float32)
    ours.eval()
    twin.eval()
    with torch.no_grad():
        want = twin(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(ours.forward(images), want, rtol=1e-4, atol=1e-5)
    ours.train()
    first, second = ours.forward(images), ours.forward(images)
    assert not np.array_equal(first, second)  # a new mask each training forward


def test_grad_names_the_parameter():
    ours = normkit.models.make_model("vit", "dyt", depth=1, dim=8, heads=2, patch=7)
    assert ours.grad("1.norm1.alpha").shape == (1,)
    with pytest.raises(normkit.Error, match="grad: no parameter named 'nothing'"):
        ours.grad("nothing")
