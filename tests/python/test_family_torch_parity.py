"""The family against PyTorch (Debian's python3-torch 1.13): LayerNorm,
GroupNorm, InstanceNorm via ATen and autograd, RMSNorm against its composite
form (torch 1.13 has no RMSNorm), AdaIN against a composite, folding against
torch.nn.utils.fusion and unfolded torch layers. Skipped where torch is not
installed."""

import numpy as np
import pytest

import normkit
from helpers import assert_close, channels_last, random

torch = pytest.importorskip("torch", reason="python3-torch not installed: no parity tests")
F = torch.nn.functional


def t(a):
    return None if a is None else torch.from_numpy(np.array(a)).requires_grad_()


def term_scale(dy, weight, rstd):
    gamma = 1.0 if weight is None else float(np.max(np.abs(weight)))
    return float(np.max(np.abs(dy))) * gamma * float(np.max(rstd))


@pytest.mark.parametrize("shape,normalized", [((8, 16), (16,)), ((2, 3, 4, 5), (4, 5)),
                                              ((4, 7, 33), (33,)), ((3, 1), (1,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, normalized, affine):
    rng = np.random.default_rng(0)
    x, dy = random(shape, rng, 1.0, 2.0), random(shape, rng)
    w = random(normalized, rng, 1.0, 0.3) if affine else None
    b = random(normalized, rng) if affine else None
    y, mean, rstd = normkit.layer_norm_forward(x, normalized, w, b, 1e-5)
    tx, tw, tb = t(x), t(w), t(b)
    ty, tmean, trstd = torch.native_layer_norm(tx, list(normalized), tw, tb, 1e-5)
    # ATen computes y = x * (rstd * w) + (b - mean * rstd * w): terms of size
    # |x| * rstd * |w| cancel (for D = 1 y is exactly b, and torch is off by
    # rounding noise times rstd = 1/sqrt(eps)).
    y_terms = float(np.max(np.abs(x)) * np.max(rstd)) * (1.0 if w is None else float(np.max(np.abs(w))))
    assert_close(y, ty.detach().numpy(), term_scale=y_terms)
    assert_close(mean, tmean.detach().numpy())
    assert_close(rstd, trstd.detach().numpy())
    ty.backward(torch.from_numpy(dy))
    dx, dw, db = normkit.layer_norm_backward(dy, x, normalized, mean, rstd, w, b)
    assert_close(dx, tx.grad.numpy(), term_scale=term_scale(dy, w, rstd))
    if affine:
        # dweight sums rows terms dy * xhat with |xhat| <= sqrt(D): for D = 1
        # it is exactly 0 here and rounding noise in torch.
        rows, D = x.size // int(np.prod(normalized)), int(np.prod(normalized))
        assert_close(dw, tw.grad.numpy(), term_scale=rows * float(np.max(np.abs(dy))) * np.sqrt(D))
        assert_close(db, tb.grad.numpy())


@pytest.mark.parametrize("shape,normalized", [((8, 16), (16,)), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("eps", [None, 1e-6])
def test_rms_norm_against_composite(shape, normalized, eps):
    rng = np.random.default_rng(1)
    x, dy, w = random(shape, rng, 0.5, 2.0), random(shape, rng), random(normalized, rng, 1.0, 0.3)
    y, rstd = normkit.rms_norm_forward(x, normalized, w, eps)
    tx, tw = t(x), t(w)
    dims = tuple(range(-len(normalized), 0))
    e = np.finfo(np.float32).eps if eps is None else eps
    ty = tx * torch.rsqrt(tx.pow(2).mean(dim=dims, keepdim=True) + e) * tw
    assert_close(y, ty.detach().numpy())
    ty.backward(torch.from_numpy(dy))
    dx, dw = normkit.rms_norm_backward(dy, x, normalized, rstd, w)
    assert_close(dx, tx.grad.numpy(), term_scale=term_scale(dy, w, rstd))
    assert_close(dw, tw.grad.numpy())


@pytest.mark.parametrize("shape,groups", [((4, 6, 5), 3), ((2, 32, 7, 7), 8), ((3, 4, 2, 3, 2), 1),
                                          ((2, 8, 3, 3), 8)])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_group_norm(shape, groups, layout):
    rng = np.random.default_rng(2)
    x = channels_last(shape, rng, 1.0, 2.0) if layout == "channels_last" and len(shape) >= 3 else random(shape, rng, 1.0, 2.0)
    dy = random(shape, rng)
    C = shape[1]
    w, b = random((C,), rng, 1.0, 0.3), random((C,), rng)
    y, mean, rstd = normkit.group_norm_forward(x, w, b, groups, 1e-5)
    tx, tw, tb = t(np.ascontiguousarray(x)), t(w), t(b)
    ty = F.group_norm(tx, groups, tw, tb, 1e-5)
    assert_close(y, ty.detach().numpy())
    ty.backward(torch.from_numpy(dy))
    dx, dw, db = normkit.group_norm_backward(dy, x, mean, rstd, w, groups)
    assert_close(dx, tx.grad.numpy(), term_scale=term_scale(dy, w, rstd))
    assert_close(dw, tw.grad.numpy())
    assert_close(db, tb.grad.numpy())


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_with_running_stats(use_input_stats):
    rng = np.random.default_rng(3)
    x, dy = random((4, 3, 6, 5), rng, 2.0, 3.0), random((4, 3, 6, 5), rng)
    w, b = random((3,), rng, 1.0, 0.3), random((3,), rng)
    rm, rv = random((3,), rng), np.abs(random((3,), rng, 1.0, 0.2)) + 0.2
    trm, trv = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    y, mean, rstd = normkit.instance_norm_forward(x, w, b, rm, rv, use_input_stats, 0.2, 1e-5)
    tx, tw, tb = t(x), t(w), t(b)
    ty = F.instance_norm(tx, trm, trv, tw, tb, use_input_stats=use_input_stats, momentum=0.2, eps=1e-5)
    assert_close(y, ty.detach().numpy())
    assert_close(rm, trm.numpy())
    assert_close(rv, trv.numpy())
    if use_input_stats:
        ty.backward(torch.from_numpy(dy))
        dx, dw, db = normkit.instance_norm_backward(dy, x, w, mean, rstd)
        assert_close(dx, tx.grad.numpy(), term_scale=term_scale(dy, w, rstd))
        assert_close(dw, tw.grad.numpy())
        assert_close(db, tb.grad.numpy())


def test_modules_match_torch_modules():
    rng = np.random.default_rng(4)
    pairs = [
        (normkit.nn.LayerNorm([5, 5]), torch.nn.LayerNorm([5, 5])),
        (normkit.nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
        (normkit.nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
         torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True)),
    ]
    for ours, theirs in pairs:
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.from_numpy(random(tuple(p.shape), rng, 1.0, 0.3)))
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        for step in range(3):
            if step == 2:
                ours.eval()
                theirs.eval()
            x = random((3, 4, 5, 5), rng, step, 1.0 + step)
            tx = torch.from_numpy(x).requires_grad_()
            ty = theirs(tx)
            assert_close(ours(x), ty.detach().numpy())
            dy = random(x.shape, rng)
            ty.backward(torch.from_numpy(dy))
            assert_close(ours.backward(dy), tx.grad.numpy(), term_scale=float(np.max(np.abs(dy))) * 3)
        assert_close(ours.weight_grad, theirs.weight.grad.numpy(), rtol=1e-4)
        for key, value in theirs.state_dict().items():
            if key != "num_batches_tracked":
                assert_close(ours.state_dict()[key], value.numpy())


def test_adain_against_composite():
    rng = np.random.default_rng(5)
    c, s, dy = random((2, 3, 6, 6), rng, 2.0, 3.0), random((2, 3, 4, 5), rng, -1.0, 0.5), random((2, 3, 6, 6), rng)
    tc, ts = t(c), t(s)

    def stats(v):
        mean = v.mean(dim=(2, 3), keepdim=True)
        return mean, torch.sqrt(v.var(dim=(2, 3), unbiased=False, keepdim=True) + 1e-5)

    (mc, sc), (ms, ss) = stats(tc), stats(ts)
    ty = ss * (tc - mc) / sc + ms
    ty.backward(torch.from_numpy(dy))
    y, *saved = normkit.adain_forward(c, s)
    assert_close(y, ty.detach().numpy())
    dc, ds = normkit.adain_backward(dy, c, s, *saved)
    assert_close(dc, tc.grad.numpy(), term_scale=float(np.max(np.abs(dy))) * 2)
    assert_close(ds, ts.grad.numpy(), rtol=1e-4)


def eval_bn(C, rng):
    bn = torch.nn.BatchNorm2d(C)
    with torch.no_grad():
        bn.running_mean.copy_(torch.from_numpy(random((C,), rng)))
        bn.running_var.copy_(torch.from_numpy(np.abs(random((C,), rng, 1.0, 0.3)) + 0.2))
        bn.weight.copy_(torch.from_numpy(random((C,), rng, 1.0, 0.3)))
        bn.bias.copy_(torch.from_numpy(random((C,), rng)))
    return bn.eval()


def fold_args(bn):
    return [bn.running_mean.numpy(), bn.running_var.numpy(), bn.weight.detach().numpy(),
            bn.bias.detach().numpy(), bn.eps]


@pytest.mark.parametrize("groups", [1, 2])
def test_fold_into_conv_matches_torch_fusion(groups):
    rng = np.random.default_rng(6)
    conv = torch.nn.Conv2d(4, 6, 3, padding=1, groups=groups).eval()
    bn = eval_bn(6, rng)
    w, b = normkit.fold_batch_norm(conv.weight.detach().numpy(), conv.bias.detach().numpy(),
                                   *fold_args(bn), layer="conv", groups=groups)
    fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
    assert_close(w, fused.weight.detach().numpy())
    assert_close(b, fused.bias.detach().numpy())
    x = torch.from_numpy(random((2, 4, 5, 5), rng))
    with torch.no_grad():
        expected = bn(conv(x)).numpy()
        got = F.conv2d(x, torch.from_numpy(w), torch.from_numpy(b), padding=1, groups=groups).numpy()
    assert_close(got, expected, rtol=1e-4)


def test_fold_into_linear_matches_torch_fusion():
    rng = np.random.default_rng(7)
    linear = torch.nn.Linear(5, 6).eval()
    bn = torch.nn.BatchNorm1d(6).eval()
    with torch.no_grad():
        bn.running_var.copy_(torch.from_numpy(np.abs(random((6,), rng, 1.0, 0.3)) + 0.2))
        bn.running_mean.copy_(torch.from_numpy(random((6,), rng)))
    w, b = normkit.fold_batch_norm(linear.weight.detach().numpy(), linear.bias.detach().numpy(),
                                   *fold_args(bn), layer="linear")
    fused = torch.nn.utils.fusion.fuse_linear_bn_eval(linear, bn)
    assert_close(w, fused.weight.detach().numpy())
    assert_close(b, fused.bias.detach().numpy())


@pytest.mark.parametrize("groups", [1, 2, 3])
def test_fold_into_conv_transpose_equals_unfolded_pair(groups):
    """ConvTranspose2d's weight is (in, out/groups, kh, kw): checked against the
    unfolded pair, not torch's fusion helper (whose transpose path assumes groups=1)."""
    rng = np.random.default_rng(8)
    deconv = torch.nn.ConvTranspose2d(6, 6, 3, stride=2, groups=groups).eval()
    bn = eval_bn(6, rng)
    w, b = normkit.fold_batch_norm(deconv.weight.detach().numpy(), deconv.bias.detach().numpy(),
                                   *fold_args(bn), layer="conv_transpose", groups=groups)
    x = torch.from_numpy(random((2, 6, 4, 4), rng))
    with torch.no_grad():
        expected = bn(deconv(x)).numpy()
        got = F.conv_transpose2d(x, torch.from_numpy(w), torch.from_numpy(b), stride=2,
                                 groups=groups).numpy()
    assert_close(got, expected, rtol=1e-4)
