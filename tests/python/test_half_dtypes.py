"""float16 arrays, and bfloat16 arrays of the ml_dtypes package, through the
same functions as float32: outputs in x's dtype, each the float32 result on
the same (widened) inputs rounded once (NumPy's and ml_dtypes' own casts
round to nearest even: the bits must agree with theirs), saved statistics
float32; PyTorch 1.13's bfloat16 CPU kernels within one unit."""

import ml_dtypes
import numpy as np
import pytest

import normkit

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float16), BF16]


def rounded(rng, shape, dtype, mean=0.5, std=1.7):
    """Values drawn in float32, stored in `dtype` (what the call sees)."""
    return (rng.standard_normal(shape, dtype=np.float32) * std + mean).astype(dtype)


def wide(a):
    return None if a is None else a.astype(np.float32)


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    return np.array_equal(a.view(np.uint16), b.view(np.uint16))


# Each op's forward and backward, called with x (and dy) in `dtype` and with
# the same values widened to float32: (name, forward(x), backward(dy, x, fwd)).
def layer_norm(x, w, b):
    return normkit.layer_norm_forward(x, [x.shape[-1]], w, b, 1e-5)


def layer_norm_back(dy, x, fwd, w, b):
    return normkit.layer_norm_backward(dy, x, [x.shape[-1]], fwd[1], fwd[2], w, b)


def rms_norm(x, w, b):
    return normkit.rms_norm_forward(x, [x.shape[-1]], w, 1e-6)


def rms_norm_back(dy, x, fwd, w, b):
    return normkit.rms_norm_backward(dy, x, [x.shape[-1]], fwd[1], w)


def batch_norm(x, w, b):
    c = x.shape[1]
    return normkit.batch_norm_forward(x, w, b, np.zeros(c, np.float32), np.ones(c, np.float32), True, 0.1, 1e-5)


def batch_norm_back(dy, x, fwd, w, b):
    c = x.shape[1]
    return normkit.batch_norm_backward(dy, x, w, np.zeros(c, np.float32), np.ones(c, np.float32),
                                       fwd[1], fwd[2], True, 1e-5)


def group_norm(x, w, b):
    return normkit.group_norm_forward(x, w, b, 2, 1e-5)


def group_norm_back(dy, x, fwd, w, b):
    return normkit.group_norm_backward(dy, x, fwd[1], fwd[2], w, 2)


OPS = [("layer_norm", (6, 40), layer_norm, layer_norm_back, "last"),
       ("rms_norm", (6, 40), rms_norm, rms_norm_back, "last"),
       ("batch_norm", (4, 6, 5, 3), batch_norm, batch_norm_back, "channel"),
       ("group_norm", (3, 6, 4, 5), group_norm, group_norm_back, "channel")]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name,shape,forward,backward,params", OPS, ids=[o[0] for o in OPS])
def test_outputs_are_float32_results_rounded_once(dtype, name, shape, forward, backward, params):
    rng = np.random.default_rng(7)
    x = rounded(rng, shape, dtype)
    dy = rounded(rng, shape, dtype, 0.0, 1.0)
    n = shape[-1] if params == "last" else shape[1]
    w = (1 + 0.3 * rng.standard_normal(n)).astype(np.float32)
    b = (0.2 * rng.standard_normal(n)).astype(np.float32)
    half = forward(x, w, b)
    full = forward(wide(x), w, b)
    assert half[0].dtype == dtype
    assert same_bits(half[0], full[0].astype(dtype))
    for h, f in zip(half[1:], full[1:]):  # saved statistics: float32, the same bits
        assert h.dtype == np.float32 and np.array_equal(h, f)
    half_grads = backward(dy, x, full, w, b)
    full_grads = backward(wide(dy), wide(x), full, w, b)
    assert half_grads[0].dtype == dtype
    assert same_bits(half_grads[0], full_grads[0].astype(dtype))
    for h, f in zip(half_grads[1:], full_grads[1:]):  # float32 weight: float32 gradients
        assert h.dtype == np.float32 and np.array_equal(h, f)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_weight_in_x_dtype_gives_gradients_in_it(dtype):
    rng = np.random.default_rng(3)
    x, dy = rounded(rng, (5, 16), dtype), rounded(rng, (5, 16), dtype, 0.0)
    w, b = np.linspace(0.5, 1.5, 16).astype(dtype), np.linspace(-0.2, 0.2, 16).astype(dtype)
    y, mean, rstd = normkit.layer_norm_forward(x, [16], w, b, 1e-5)
    y32, _, _ = normkit.layer_norm_forward(wide(x), [16], wide(w), wide(b), 1e-5)
    assert same_bits(y, y32.astype(dtype))
    dx, dw, db = normkit.layer_norm_backward(dy, x, [16], mean, rstd, w, b)
    _, dw32, db32 = normkit.layer_norm_backward(wide(dy), wide(x), [16], mean, rstd, wide(w), wide(b))
    assert dw.dtype == dtype and same_bits(dw, dw32.astype(dtype)) and same_bits(db, db32.astype(dtype))


def test_channels_last_and_strided_16_bit_inputs():
    rng = np.random.default_rng(5)
    x = rounded(rng, (2, 4, 3, 5), BF16).transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)  # channels-last
    y, _, _ = normkit.group_norm_forward(x, None, None, 2, 1e-5)
    y32, _, _ = normkit.group_norm_forward(wide(x), None, None, 2, 1e-5)
    assert same_bits(np.ascontiguousarray(y), np.ascontiguousarray(y32.astype(BF16)))
    s = rounded(rng, (4, 32), np.float16)[:, ::2]  # every other element
    y, _ = normkit.rms_norm_forward(s, [16], None, 1e-6)
    assert same_bits(y, normkit.rms_norm_forward(wide(s), [16], None, 1e-6)[0].astype(np.float16))


def test_dtype_errors_name_the_argument():
    x = np.zeros((2, 8), BF16)
    with pytest.raises(ValueError, match="weight: expected float32 or bfloat16"):
        normkit.layer_norm_forward(x, [8], np.ones(8, np.float16), None, 1e-5)
    with pytest.raises(ValueError, match="x: expected a float32 array, got int8"):
        normkit.batch_norm_forward(np.zeros((2, 3), np.int8), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="dy: expected float32 or float16"):
        normkit.rms_norm_backward(np.zeros((2, 8), BF16), np.zeros((2, 8), np.float16), [8],
                                  np.ones((2, 1), np.float32), None)


def test_safetensors_round_trip_of_16_bit_and_int8_arrays(tmp_path):
    import normkit.io
    rng = np.random.default_rng(13)
    tensors = {"bf": rounded(rng, (3, 4), BF16), "h": rounded(rng, (5,), np.float16),
               "q": np.arange(-128, 127, 17, dtype=np.int8), "w": np.ones(2, np.float32)}
    normkit.io.save_file(tensors, str(tmp_path / "m.safetensors"))
    back = normkit.io.load_file(str(tmp_path / "m.safetensors"))
    for name, array in tensors.items():
        assert back[name].dtype == array.dtype, name
        assert np.array_equal(back[name].view(np.uint8), array.view(np.uint8)), name


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["layer_norm", "group_norm", "batch_norm"])
def test_bfloat16_at_least_as_close_as_pytorch(name):
    """PyTorch 1.13 runs these in bfloat16 on the CPU. Against the float64
    normalization of the same bfloat16 inputs, normkit is within half a unit
    plus float32's error (one rounding), and never further than PyTorch
    (whose 1.13 kernels round intermediates: up to 2 units off here)."""
    rng = np.random.default_rng(11)
    shape = (6, 40) if name == "layer_norm" else (4, 6, 5, 3)
    x = rounded(rng, shape, BF16)
    x64 = x.astype(np.float64)
    t = torch.from_numpy(wide(x)).to(torch.bfloat16)
    if name == "layer_norm":
        ours = normkit.layer_norm_forward(x, [40], None, None, 1e-5)[0]
        theirs = torch.nn.functional.layer_norm(t, [40], eps=1e-5)
        axes = (-1,)
    elif name == "group_norm":
        ours = normkit.group_norm_forward(x, None, None, 2, 1e-5)[0]
        theirs = torch.nn.functional.group_norm(t, 2, eps=1e-5)
        x64 = x64.reshape(4, 2, -1)
        axes = (-1,)
    else:
        ours = normkit.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)[0]
        theirs = torch.nn.functional.batch_norm(t, None, None, training=True, eps=1e-5)
        axes = (0, 2, 3)
    mean = x64.mean(axis=axes, keepdims=True)
    exact = ((x64 - mean) / np.sqrt(x64.var(axis=axes, keepdims=True) + 1e-5)).reshape(shape)
    magnitude = np.abs(exact).astype(np.float32).astype(BF16)
    ulp = wide((magnitude.view(np.uint16) + 1).view(BF16)) - wide(magnitude)
    ours_error = np.abs(wide(ours) - exact)
    theirs_error = np.abs(theirs.float().numpy() - exact)
    assert np.all(ours_error <= 0.5 * ulp + 1e-5)
    assert np.all(ours_error <= theirs_error + 1e-5)
