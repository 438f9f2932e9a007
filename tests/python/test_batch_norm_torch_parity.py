"""Parity with PyTorch (Debian's python3-torch): functional forward against
torch.native_batch_norm, backward against autograd and
native_batch_norm_backward, modules against torch.nn.BatchNorm*d.
Skipped, with a reason, where torch is not installed."""

import numpy as np
import pytest

import normkit
from helpers import assert_close, channels_last, random

torch = pytest.importorskip("torch", reason="python3-torch not installed: no parity tests")
F = torch.nn.functional

SHAPES = [(8, 3), (5, 4, 7), (4, 3, 5, 6), (2, 3, 4, 3, 2), (16, 32, 7, 7), (3, 2, 1)]


def make_input(shape, layout, rng, loc=0.5, scale=2.0):
    if layout == "channels_last" and len(shape) >= 3:
        return channels_last(shape, rng, loc, scale)
    return random(shape, rng, loc, scale)


def dx_term_scale(dy, weight, invstd):
    """dx is a cancelling sum: hold it to the size of its terms (docs/numerics.md)."""
    gamma = np.ones_like(invstd) if weight is None else weight
    return float(np.max(np.abs(dy)) * np.max(np.abs(gamma * invstd)))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_forward_and_backward_match_torch(shape, layout, training, affine):
    rng = np.random.default_rng(abs(hash((shape, layout, training, affine))) % 2**32)
    C = shape[1]
    x = make_input(shape, layout, rng)
    w = random((C,), rng, 1.0, 0.5) if affine else None
    b = random((C,), rng, 0.0, 0.5) if affine else None
    rm = random((C,), rng, 0.2, 0.3)
    rv = np.abs(random((C,), rng, 1.0, 0.3)) + 0.2
    t = lambda a: None if a is None else torch.from_numpy(np.array(a))  # copies
    trm, trv = t(rm), t(rv)

    y, mean, invstd = normkit.batch_norm_forward(x, w, b, rm, rv, training, 0.1, 1e-5)
    ty, tmean, tinvstd = torch.native_batch_norm(t(x), t(w), t(b), trm, trv, training, 0.1, 1e-5)
    assert_close(y, ty.numpy())
    assert mean.shape == tuple(tmean.shape) and invstd.shape == tuple(tinvstd.shape)
    assert_close(mean, tmean.numpy())
    assert_close(invstd, tinvstd.numpy())
    assert_close(rm, trm.numpy())
    assert_close(rv, trv.numpy())

    dy = make_input(shape, layout, rng, 0.0, 1.0)
    dx, dw, db = normkit.batch_norm_backward(dy, x, w, rm, rv, mean, invstd, training, 1e-5)
    tdx, tdw, tdb = torch.ops.aten.native_batch_norm_backward(
        t(dy), t(x), t(w), trm, trv, tmean if training else None,
        tinvstd if training else None, training, 1e-5, [True, True, True])
    spread = invstd if training else 1 / np.sqrt(rv + 1e-5)
    assert_close(dx, tdx.numpy(), term_scale=dx_term_scale(dy, w, spread))
    assert_close(db, tdb.numpy())
    if affine:
        assert_close(dw, tdw.numpy())
    else:
        assert dw is None  # DESIGN.md: missing weight gives dweight None


@pytest.mark.parametrize("shape", [(6, 3, 4, 4), (10, 5)])
def test_backward_matches_autograd(shape):
    rng = np.random.default_rng(7)
    C = shape[1]
    x, dy = random(shape, rng, 1.0, 2.0), random(shape, rng)
    w, b = random((C,), rng, 1.0, 0.3), random((C,), rng)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tw = torch.from_numpy(w.copy()).requires_grad_()
    tb = torch.from_numpy(b.copy()).requires_grad_()
    F.batch_norm(tx, None, None, tw, tb, training=True).backward(torch.from_numpy(dy))
    _, mean, invstd = normkit.batch_norm_forward(x, w, b, None, None, True, 0.1, 1e-5)
    dx, dw, db = normkit.batch_norm_backward(dy, x, w, None, None, mean, invstd, True, 1e-5)
    assert_close(dx, tx.grad.numpy(), term_scale=dx_term_scale(dy, w, invstd))
    assert_close(dw, tw.grad.numpy())
    assert_close(db, tb.grad.numpy())


@pytest.mark.parametrize("momentum", [0.1, None, 0.5])
@pytest.mark.parametrize("track", [True, False])
def test_module_matches_torch_over_steps(momentum, track):
    rng = np.random.default_rng(11)
    ours = normkit.nn.BatchNorm2d(4, momentum=momentum, track_running_stats=track)
    theirs = torch.nn.BatchNorm2d(4, momentum=momentum, track_running_stats=track)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(random((4,), rng, 1.0, 0.3)))
        theirs.bias.copy_(torch.from_numpy(random((4,), rng)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for step in range(6):
        x = random((8, 4, 3, 3), rng, loc=step, scale=1 + step)
        if step == 4:
            ours.eval()
            theirs.eval()
        y = ours(x)
        tx = torch.from_numpy(x).requires_grad_()
        ty = theirs(tx)
        assert_close(y, ty.detach().numpy())
        dy = random(x.shape, rng)
        ty.backward(torch.from_numpy(dy))
        dx = ours.backward(dy)
        batch_stats = ours.training or not track
        var = x.var(axis=(0, 2, 3)) if batch_stats else ours.running_var
        assert_close(dx, tx.grad.numpy(),
                     term_scale=dx_term_scale(dy, ours.weight, 1 / np.sqrt(var + 1e-5)))
    assert_close(ours.weight_grad, theirs.weight.grad.numpy())
    assert_close(ours.bias_grad, theirs.bias.grad.numpy())
    for key, value in theirs.state_dict().items():
        ours_value = ours.state_dict()[key]
        if key == "num_batches_tracked":
            assert int(ours_value) == int(value)
        else:
            assert_close(ours_value, value.numpy())


def test_empty_batch_matches_torch():
    rm, rv = np.full(3, 0.5, np.float32), np.full(3, 2.0, np.float32)
    trm, trv = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    x = np.zeros((0, 3, 5), np.float32)
    y, _, _ = normkit.batch_norm_forward(x, None, None, rm, rv, True, 0.1, 1e-5)
    ty = F.batch_norm(torch.from_numpy(x), trm, trv, training=True)
    assert y.shape == tuple(ty.shape)
    assert_close(rm, trm.numpy())
    assert_close(rv, trv.numpy())
    ours, theirs = normkit.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    ours(x)
    theirs(torch.from_numpy(x))
    assert ours.num_batches_tracked == int(theirs.num_batches_tracked)


def test_single_value_message_matches_torch():
    x = np.ones((1, 3), np.float32)
    with pytest.raises(ValueError) as theirs:
        F.batch_norm(torch.from_numpy(x), None, None, training=True)
    with pytest.raises(ValueError) as ours:
        normkit.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)
    prefix = "Expected more than 1 value per channel when training"
    assert str(theirs.value).startswith(prefix) and str(ours.value).startswith(prefix)


def test_large_mean_is_more_accurate_than_float_torch():
    """Both against float64 torch: normkit's variance stays within 1e-5."""
    rng = np.random.default_rng(5)
    x = random((64, 3, 16, 16), rng, loc=1e4, scale=1.0)
    _, _, invstd = normkit.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)
    var64 = x.astype(np.float64).var(axis=(0, 2, 3))
    var = 1 / invstd.astype(np.float64) ** 2 - 1e-5
    assert np.all(np.abs(var - var64) / var64 < 1e-5)
