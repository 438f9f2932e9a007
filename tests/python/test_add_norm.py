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
