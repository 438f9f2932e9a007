"""LayerNorm and RMSNorm with int8 output from Python: q against NumPy's
rounding of the float32 norm's y (half to even, clamped), static and per-row
scales, bfloat16 input, errors."""

import ml_dtypes
import numpy as np
import pytest

import normkit


def quantized(y, scale):
    return np.clip(np.rint(y / scale), -128, 127).astype(np.int8)  # rint: half to even


def close_quantization(q, expected, ratio):
    """Equal, or one apart where y / scale is within float32 rounding of .5."""
    diff = np.abs(q.astype(int) - expected.astype(int))
    near_half = np.abs(np.abs(ratio - np.floor(ratio)) - 0.5) < 1e-5 * (1 + np.abs(ratio))
    return np.all((diff == 0) | ((diff == 1) & near_half))


def test_rms_norm_quant_static_and_per_row():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 64)).astype(np.float32) * 2
    w = (1 + 0.2 * rng.standard_normal(64)).astype(np.float32)
    y, rstd = normkit.rms_norm_forward(x, 64, w, 1e-6, weight_offset=0.0)
    q, scales, rstd_q = normkit.rms_norm_quant_forward(x, 64, w, 1e-6, scale=0.02)
    assert q.dtype == np.int8 and scales.shape == (1,) and scales[0] == np.float32(0.02)
    assert np.array_equal(rstd_q, rstd)
    assert close_quantization(q, quantized(y, np.float32(0.02)), y / np.float32(0.02))
    q, scales, _ = normkit.rms_norm_quant_forward(x, 64, w, 1e-6)
    assert scales.shape == (8, 1)
    assert np.allclose(scales, np.abs(y).max(-1, keepdims=True) / 127, rtol=1e-6)
    assert close_quantization(q, quantized(y, scales), y / scales)
    assert np.all(np.abs(q.astype(int)).max(-1) == 127)


def test_layer_norm_quant_with_bfloat16_input():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((4, 3, 96)) + 1).astype(ml_dtypes.bfloat16)
    y, mean, rstd = normkit.layer_norm_forward(x.astype(np.float32), 96, None, None, 1e-5)
    q, scales, mean_q, rstd_q = normkit.layer_norm_quant_forward(x, 96, None, None, 1e-5)
    assert q.shape == x.shape and scales.shape == (4, 3, 1)
    assert np.array_equal(mean_q, mean) and np.array_equal(rstd_q, rstd)
    assert close_quantization(q, quantized(y, scales), y / scales)


def test_errors():
    x = np.zeros((2, 8), np.float32)
    with pytest.raises(ValueError, match="scale: expected a positive finite number"):
        normkit.rms_norm_quant_forward(x, 8, None, None, scale=0.0)
    with pytest.raises(ValueError, match="input: expected a float32 array, got int8"):
        normkit.layer_norm_quant_forward(np.zeros((2, 8), np.int8), 8, None, None, 1e-5)
