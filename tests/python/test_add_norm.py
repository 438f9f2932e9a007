"""The fused residual add + norm from Python: against PyTorch's composite
(x + residual, then the norm; autograd for the gradients), with Gemma's
weight offset, without dresidual_out, and in bfloat16."""

import ml_dtypes
import numpy as np
import pytest
import torch

import normkit
from helpers import assert_close

BF16 = np.dtype(ml_dtypes.bfloat16)


def data(shape, seed, mean=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * 1.5 + mean).astype(np.float32)


def torch_rms_norm(s, w, eps, offset):
    return s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps) * (offset + w)


@pytest.mark.parametrize("offset", [0.0, 1.0])
@pytest.mark.parametrize("with_dres", [True, False])
def test_add_rms_norm_matches_the_composite(offset, with_dres):
    x, r, w, dy, dres = data((6, 48), 1), data((6, 48), 2, -0.3), data(48, 3, 1.0), data((6, 48), 4), data((6, 48), 5)
    y, residual_out, rstd = normkit.add_rms_norm_forward(x, r, [48], w, 1e-6, weight_offset=offset)
    tx, tr, tw = (torch.from_numpy(a).requires_grad_() for a in (x, r, w))
    ts = tx + tr
    ts.retain_grad()
    ty = torch_rms_norm(ts, tw, 1e-6, offset)
    assert_close(residual_out, (x + r), rtol=0)
    assert_close(y, ty.detach().numpy(), rtol=1e-5)
    assert rstd.shape == (6, 1)
    loss = (ty * torch.from_numpy(dy)).sum() + ((ts * torch.from_numpy(dres)).sum() if with_dres else 0)
    loss.backward()
    dsum, dw = normkit.add_rms_norm_backward(dy, dres if with_dres else None, residual_out, [48], rstd, w,
                                             weight_offset=offset)
    assert_close(dsum, tx.grad.numpy(), rtol=1e-4)
    assert_close(dsum, tr.grad.numpy(), rtol=1e-4)  # the gradient of both
    assert_close(dw, tw.grad.numpy(), rtol=1e-4)


def test_add_layer_norm_matches_the_composite():
    x, r, w, b, dy, dres = (data((5, 3, 40), s) for s in range(6))
    w, b = w[0, 0], b[0, 0]
    y, residual_out, mean, rstd = normkit.add_layer_norm_forward(x, r, 40, w, b, 1e-5)
    tx, tr, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, r, w, b))
    ts = tx + tr
    ty = torch.nn.functional.layer_norm(ts, [40], tw, tb, 1e-5)
    assert_close(y, ty.detach().numpy(), rtol=1e-5)
    assert mean.shape == (5, 3, 1)
    ((ty * torch.from_numpy(dy)).sum() + (ts * torch.from_numpy(dres)).sum()).backward()
    dsum, dw, db = normkit.add_layer_norm_backward(dy, dres, residual_out, [40], mean, rstd, w, b)
    assert_close(dsum, tx.grad.numpy(), rtol=1e-4)
    assert_close(dw, tw.grad.numpy(), rtol=1e-4)
    assert_close(db, tb.grad.numpy(), rtol=1e-4)


def test_bfloat16_stream_with_float32_residual():
    """x in bfloat16 with the residual stream kept in float32 (FlashAttention's
    residual_in_fp32): residual_out is float32, y bfloat16."""
    x, r, w = data((4, 32), 7).astype(BF16), data((4, 32), 8), data(32, 9, 1.0)
    y, residual_out, rstd = normkit.add_rms_norm_forward(x, r, [32], w, None)
    assert y.dtype == BF16 and residual_out.dtype == np.float32
    assert np.array_equal(residual_out, x.astype(np.float32) + r)
    y32, _ = normkit.rms_norm_forward(residual_out, [32], w, None)
    assert np.array_equal(y.view(np.uint16), y32.astype(BF16).view(np.uint16))


def test_errors_name_the_argument():
    x = np.zeros((2, 8), np.float32)
    with pytest.raises(ValueError, match="residual: expected shape"):
        normkit.add_rms_norm_forward(x, np.zeros((2, 7), np.float32), [8], None, None)
    with pytest.raises(ValueError, match="residual: expected float32, got bfloat16"):
        normkit.add_layer_norm_forward(x, np.zeros((2, 8), BF16), [8], None, None, 1e-5)


# ---- the modules (normkit.nn.AddRMSNorm, AddLayerNorm) ------------------------------

@pytest.mark.parametrize("dtype", [np.float32, BF16, np.float16])
def test_add_norm_modules_are_the_functional_ops(dtype):
    x, r, dy, dres = (data((4, 3, 32), s).astype(dtype) for s in range(4))
    rms = normkit.nn.AddRMSNorm(32, eps=1e-6, weight_offset=1.0)
    rms.weight[:] = data(32, 7)
    y, residual_out = rms.forward(x, r)
    fy, fsum, frstd = normkit.add_rms_norm_forward(x, r, [32], rms.weight, 1e-6, weight_offset=1.0)
    assert y.dtype == dtype and residual_out.dtype == dtype
    np.testing.assert_array_equal(y.view(np.uint8), fy.view(np.uint8))
    np.testing.assert_array_equal(residual_out.view(np.uint8), fsum.view(np.uint8))
    dsum = rms.backward(dy, dres)
    gsum, gw = normkit.add_rms_norm_backward(dy, dres, fsum, [32], frstd, rms.weight, weight_offset=1.0)
    np.testing.assert_array_equal(dsum.view(np.uint8), gsum.view(np.uint8))
    np.testing.assert_array_equal(rms.weight_grad, gw)  # float32 parameters, their gradient accumulated
    rms.backward(dy)  # dresidual_out left out: zero
    assert list(rms.state_dict()) == ["weight"]

    ln = normkit.nn.AddLayerNorm([32])
    y, residual_out = ln.forward(x, r)
    fy, fsum, fmean, frstd = normkit.add_layer_norm_forward(x, r, [32], ln.weight, ln.bias, 1e-5)
    np.testing.assert_array_equal(y.view(np.uint8), fy.view(np.uint8))
    dsum = ln.backward(dy)
    gsum, gw, gb = normkit.add_layer_norm_backward(dy, None, fsum, [32], fmean, frstd, ln.weight, ln.bias)
    np.testing.assert_array_equal(dsum.view(np.uint8), gsum.view(np.uint8))
    np.testing.assert_array_equal(ln.bias_grad, gb)
    assert list(ln.state_dict()) == ["weight", "bias"]


def test_add_norm_module_keeps_its_own_copy_of_the_stream():
    x, r, dy = data((3, 16), 1), data((3, 16), 2), data((3, 16), 3)
    mod = normkit.nn.AddRMSNorm(16)
    _, residual_out = mod.forward(x, r)
    want = mod.backward(dy)
    residual_out[:] = 0  # the caller reuses the returned stream
    np.testing.assert_array_equal(mod.backward(dy), want)


def test_add_norm_module_errors_name_the_argument():
    mod = normkit.nn.AddLayerNorm(8)
    with pytest.raises(normkit.Error, match="backward: call forward first"):
        mod.backward(data((2, 8), 1))
    with pytest.raises(normkit.Error, match="residual: expected"):
        mod.forward(data((2, 8), 1), data((2, 9), 2))
    with pytest.raises(normkit.Error, match="normalized_shape"):
        normkit.nn.AddRMSNorm([0])


@pytest.mark.parametrize("dtype", [BF16, np.float16])
def test_layer_norm_and_rms_norm_modules_take_their_inputs_dtype(dtype):
    x, dy = data((5, 24), 1, 2.0).astype(dtype), data((5, 24), 2).astype(dtype)
    for mod, forward in ((normkit.nn.LayerNorm(24), lambda m: normkit.layer_norm_forward(x, [24], m.weight, m.bias, 1e-5)),
                         (normkit.nn.RMSNorm(24), lambda m: normkit.rms_norm_forward(x, [24], m.weight, None))):
        y = mod.forward(x)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.view(np.uint8), forward(mod)[0].view(np.uint8))
        dx = mod.backward(dy)
        assert dx.dtype == dtype and mod.weight_grad.dtype == np.float32
        # Within a unit of the 16-bit output of the float32 module's values.
        wide = type(mod)(24).forward(x.astype(np.float32))
        np.testing.assert_allclose(y.astype(np.float32), wide.astype(dtype).astype(np.float32), rtol=0, atol=0)
