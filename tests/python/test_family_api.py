"""The family's Python API without PyTorch: return tuples and shapes, None for
missing parameters, errors as ValueError naming the argument, modules."""

import numpy as np
import pytest

import normkit
from helpers import assert_close, channels_last, random


def test_layer_norm_returns_aten_shapes_and_none_for_missing_params():
    x = random((2, 3, 4), np.random.default_rng(0))
    y, mean, rstd = normkit.layer_norm_forward(x, 4, None, None, 1e-5)
    assert mean.shape == (2, 3, 1) and rstd.shape == (2, 3, 1)
    assert_close(y, (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5))
    _, mean2, _ = normkit.layer_norm_forward(x, (3, 4), None, None, 1e-5)
    assert mean2.shape == (2, 1, 1)
    dx, dw, db = normkit.layer_norm_backward(np.ones_like(y), x, [4], mean, rstd, None, None)
    assert dx.shape == x.shape and dw is None and db is None
    w = np.ones(4, np.float32)
    _, dw, db = normkit.layer_norm_backward(np.ones_like(y), x, [4], mean, rstd, w, w)
    assert dw.shape == (4,) and db.shape == (4,)


def test_results_own_their_memory_after_the_call():
    # Each result is a NumPy array over normkit's storage (no copy), kept
    # alive by the array alone: the other results, the inputs and later
    # calls of the same shapes (which reuse freed blocks) leave it intact.
    rng = np.random.default_rng(7)
    for shape in [(1, 16), (3, 5), (2, 1024)]:
        x = random(shape, rng)
        y, mean, rstd = normkit.layer_norm_forward(x, shape[-1], None, None, 1e-5)
        expected = y.copy()
        assert y.flags.writeable and not y.flags.owndata and y.flags.c_contiguous
        del x, mean, rstd
        for _ in range(3):
            normkit.layer_norm_forward(random(shape, rng), shape[-1], None, None, 1e-5)
        np.testing.assert_array_equal(y, expected)
        y += 1  # writable in place, as any result
        np.testing.assert_array_equal(y, expected + 1)


def test_rms_norm_default_eps_is_float32_epsilon():
    x = np.zeros((2, 3), np.float32)
    _, rstd = normkit.rms_norm_forward(x, 3, None, None)
    assert rstd.shape == (2, 1)
    assert_close(rstd, np.full((2, 1), 1 / np.sqrt(np.finfo(np.float32).eps)))
    dx, dw = normkit.rms_norm_backward(np.ones_like(x), x, [3], rstd, None)
    assert dw is None and dx.shape == x.shape


def test_group_and_instance_norm_shapes_and_layouts():
    rng = np.random.default_rng(1)
    x = channels_last((2, 6, 3, 4), rng)
    y, mean, rstd = normkit.group_norm_forward(x, None, None, 3, 1e-5)
    assert y.strides == x.strides and mean.shape == (2, 3)
    dx, dw, db = normkit.group_norm_backward(np.ones_like(y), x, mean, rstd, None, 3)
    assert dw is None and db.shape == (6,)
    y, mean, rstd = normkit.instance_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)
    assert mean.shape == (2, 6)
    dx, dw, db = normkit.instance_norm_backward(np.ones_like(y), x, None, mean, rstd)
    assert dx.shape == x.shape


def test_errors_name_the_argument():
    x = random((2, 6, 5), np.random.default_rng(2))
    with pytest.raises(ValueError, match="num_groups: expected number of channels in input to be divisible"):
        normkit.group_norm_forward(x, None, None, 4, 1e-5)
    with pytest.raises(ValueError, match=r"normalized_shape: given normalized_shape=\(4,\)"):
        normkit.layer_norm_forward(x, [4], None, None, 1e-5)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        normkit.instance_norm_forward(x[:, :, :1], None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="weight: expected a float32 array"):
        normkit.rms_norm_forward(x, 5, np.ones(5), None)
    with pytest.raises(ValueError, match="normalized_shape: expected an int or a sequence"):
        normkit.layer_norm_forward(x, "5", None, None, 1e-5)


def test_modules_state_dicts_and_backward():
    rng = np.random.default_rng(3)
    x = random((2, 4, 3, 3), rng)
    modules = {
        "ln": (normkit.nn.LayerNorm([3, 3]), ["weight", "bias"]),
        "rms": (normkit.nn.RMSNorm(3), ["weight"]),
        "gn": (normkit.nn.GroupNorm(2, 4), ["weight", "bias"]),
        "in": (normkit.nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
               ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]),
        "ghost": (normkit.nn.GhostBatchNorm2d(4, 1), ["weight", "bias", "running_mean",
                                                      "running_var", "num_batches_tracked"]),
        "renorm": (normkit.nn.BatchRenorm2d(4), ["weight", "bias", "running_mean",
                                                 "running_var", "num_batches_tracked"]),
        "frozen": (normkit.nn.FrozenBatchNorm2d(4), ["weight", "bias", "running_mean",
                                                     "running_var"]),
    }
    for name, (module, keys) in modules.items():
        assert list(module.state_dict()) == keys, name
        y = module(x)
        assert y.shape == x.shape, name
        dx = module.backward(np.ones_like(y))
        assert dx.shape == x.shape, name
    assert modules["frozen"][0].weight_grad is None  # buffers, not parameters


def test_adain_module_and_functional():
    rng = np.random.default_rng(4)
    content, style = random((2, 3, 8, 8), rng, 3.0, 2.0), random((2, 3, 5, 5), rng, -1.0, 0.5)
    adain = normkit.nn.AdaIN()
    y = adain(content, style)
    assert_close(y.mean(axis=(2, 3)), style.mean(axis=(2, 3)), rtol=1e-4)
    dc, ds = adain.backward(np.ones_like(y))
    assert dc.shape == content.shape and ds.shape == style.shape
    y2, *stats = normkit.adain_forward(content, style)
    assert_close(y2, y)
    dc2, ds2 = normkit.adain_backward(np.ones_like(y), content, style, *stats)
    assert_close(dc2, dc)


def test_recalibration_from_python():
    rng = np.random.default_rng(5)
    bn = normkit.nn.BatchNorm2d(2, momentum=0.5)
    batches = [random((4, 2, 3, 3), rng, i, 1.0) for i in range(4)]
    bn.eval()
    normkit.nn.recalibrate_running_stats([bn], lambda: [bn(b) for b in batches])
    assert not bn.training and bn.num_batches_tracked == 4
    assert_close(bn.running_mean, np.mean([b.mean(axis=(0, 2, 3)) for b in batches], axis=0))
