"""normkit inside PyTorch (Debian's torch 1.13 and torchvision 0.14):
torch tensors through the functional API (DLPack, no copy), normkit.torch's
autograd functions against torch's own ops and autograd, its modules and
convert/revert on torchvision's ResNet-18 and torch's TransformerEncoderLayer,
state dicts, pickling, devices, and the same bits for any thread count."""

import copy
import pickle

import ml_dtypes
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import torchvision  # python3-torchvision (scripts/install-deps.sh)

import normkit
import normkit.torch as nt


@pytest.fixture(autouse=True)
def two_threads():
    torch.set_num_threads(2)
    yield


def rel(a, b):
    """||a - b|| / ||a||."""
    a, b = a.detach().double(), b.detach().double()
    return ((a - b).norm() / (a.norm() + 1e-300)).item()


def layouts(shape, seed):
    """x of `shape` (rank 4) contiguous, channels-last and strided (every other
    element of the last dim), the same values."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(shape, generator=g) * 1.7 + 0.5
    wide = torch.zeros(shape[:-1] + (2 * shape[-1],))
    wide[..., ::2] = base
    return {"contiguous": base.clone(), "channels_last": base.clone().to(memory_format=torch.channels_last),
            "strided": wide[..., ::2]}


# ---- the functional API takes torch tensors --------------------------------------------

def test_functional_api_takes_and_returns_torch_tensors():
    x = torch.randn(6, 32) * 2 + 1
    w, b = torch.rand(32) + 0.5, torch.randn(32)
    y, mean, rstd = normkit.layer_norm_forward(x, [32], w, b, 1e-5)
    assert isinstance(y, torch.Tensor) and isinstance(rstd, torch.Tensor) and y.dtype == torch.float32
    ny, nmean, nrstd = normkit.layer_norm_forward(x.numpy(), [32], w.numpy(), b.numpy(), 1e-5)
    assert isinstance(ny, np.ndarray)
    np.testing.assert_array_equal(y.numpy(), ny)  # the same kernel, the same bits
    # A transposed (strided) tensor, a tensor that requires grad, bfloat16.
    xt = torch.randn(32, 6).t()
    assert torch.equal(normkit.rms_norm_forward(xt, 32, None, 1e-6)[0],
                       normkit.rms_norm_forward(xt.contiguous(), 32, None, 1e-6)[0])
    assert normkit.layer_norm_forward(x.requires_grad_(), 32, None, None, 1e-5)[0].requires_grad is False
    yb = normkit.layer_norm_forward(x.detach().bfloat16(), 32, None, None, 1e-5)[0]
    assert yb.dtype == torch.bfloat16
    want = normkit.layer_norm_forward(x.detach().bfloat16().float().numpy().astype(ml_dtypes.bfloat16), 32, None,
                                      None, 1e-5)[0]
    np.testing.assert_array_equal(yb.view(torch.int16).numpy(), want.view(np.int16))


def test_running_statistics_are_updated_in_the_torch_buffers():
    x = torch.randn(8, 3, 4, 4)
    rm, rv = torch.zeros(3), torch.ones(3)
    rm_t, rv_t = rm.clone(), rv.clone()
    normkit.batch_norm_forward(x, None, None, rm, rv, True, 0.1, 1e-5)
    F.batch_norm(x, rm_t, rv_t, training=True, momentum=0.1)
    torch.testing.assert_close(rm, rm_t)
    torch.testing.assert_close(rv, rv_t)


def test_functional_errors_name_the_argument():
    with pytest.raises(normkit.Error, match=r"input: expected a float32 tensor \(or bfloat16, or float16\), got float64"):
        normkit.layer_norm_forward(torch.zeros(2, 4, dtype=torch.float64), 4, None, None, 1e-5)
    with pytest.raises(normkit.Error, match="input: expected a tensor on the CPU, got one on meta"):
        normkit.layer_norm_forward(torch.zeros(2, 4, device="meta"), 4, None, None, 1e-5)
    with pytest.raises(normkit.Error, match="weight: expected"):
        normkit.layer_norm_forward(torch.zeros(2, 4), 4, torch.zeros(4, dtype=torch.int64), None, 1e-5)


# ---- each op against torch's forward and autograd backward ------------------------------

def check_against_torch(ours, theirs, inputs, atol=2e-5, rtol=1e-4):
    """ours(*inputs) against theirs(*inputs): outputs, and every input's gradient
    for the same random dy."""
    a = [t.detach().clone().requires_grad_(t.requires_grad) for t in inputs]
    b = [t.detach().clone().requires_grad_(t.requires_grad) for t in inputs]
    ya, yb = ours(*a), theirs(*b)
    torch.testing.assert_close(ya, yb, atol=atol, rtol=rtol)
    dy = torch.randn_like(yb)
    ya.backward(dy)
    yb.backward(dy)
    for u, v in zip(a, b):
        if v.requires_grad:
            torch.testing.assert_close(u.grad, v.grad, atol=atol, rtol=rtol)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(layout, training):
    x = layouts((4, 5, 6, 7), 1)[layout].requires_grad_()
    w, b = (torch.rand(5) + 0.5).requires_grad_(), torch.randn(5).requires_grad_()
    rm, rv = torch.randn(5), torch.rand(5) + 0.5
    rm_t, rv_t = rm.clone(), rv.clone()
    check_against_torch(lambda x, w, b: nt.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5),
                        lambda x, w, b: F.batch_norm(x, rm_t, rv_t, w, b, training, 0.1, 1e-5), [x, w, b])
    torch.testing.assert_close(rm, rm_t)
    torch.testing.assert_close(rv, rv_t)


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_layer_group_instance_norm_match_torch(layout):
    x = layouts((3, 6, 5, 8), 2)[layout].requires_grad_()
    w8, b8 = (torch.rand(8) + 0.5).requires_grad_(), torch.randn(8).requires_grad_()
    check_against_torch(lambda x, w, b: nt.layer_norm(x, 8, w, b), lambda x, w, b: F.layer_norm(x, (8,), w, b),
                        [x, w8, b8])
    w6, b6 = (torch.rand(6) + 0.5).requires_grad_(), torch.randn(6).requires_grad_()
    check_against_torch(lambda x, w, b: nt.group_norm(x, 3, w, b), lambda x, w, b: F.group_norm(x, 3, w, b),
                        [x, w6, b6])
    rm, rv = torch.zeros(6), torch.ones(6)
    rm_t, rv_t = rm.clone(), rv.clone()
    check_against_torch(lambda x, w, b: nt.instance_norm(x, rm, rv, w, b),
                        lambda x, w, b: F.instance_norm(x, rm_t, rv_t, w, b, True), [x, w6, b6])
    torch.testing.assert_close(rm, rm_t)
    torch.testing.assert_close(rv, rv_t)


def test_rms_norm_adain_and_fused_ops_match_their_torch_composites():
    x = (torch.randn(4, 7, 24) * 1.5 + 0.3).requires_grad_()
    r = torch.randn(4, 7, 24).requires_grad_()
    w = (torch.rand(24) + 0.5).requires_grad_()
    b = torch.randn(24).requires_grad_()

    def rms(s, w, offset=0.0, eps=1e-6):
        return s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps) * (offset + w)

    check_against_torch(lambda x, w: nt.rms_norm(x, 24, w, 1e-6, weight_offset=1.0),
                        lambda x, w: rms(x, w, 1.0), [x, w])
    # The fused ops: both outputs used, so both gradients reach x and residual.
    check_against_torch(lambda x, r, w: sum(t.sin().sum() for t in nt.add_rms_norm(x, r, 24, w, 1e-6)),
                        lambda x, r, w: rms(x + r, w).sin().sum() + (x + r).sin().sum(), [x, r, w])
    check_against_torch(lambda x, r, w, b: sum(t.cos().sum() for t in nt.add_layer_norm(x, r, 24, w, b)),
                        lambda x, r, w, b: F.layer_norm(x + r, (24,), w, b).cos().sum() + (x + r).cos().sum(),
                        [x, r, w, b])
    # Only y used (residual_out's gradient None inside).
    check_against_torch(lambda x, r: nt.add_rms_norm(x, r, 24, None, 1e-6)[0], lambda x, r: rms(x + r, 1.0),
                        [x, r])
    content = (torch.randn(2, 3, 5, 6) * 2 + 1).requires_grad_()
    style = (torch.randn(2, 3, 4, 4) * 0.5 - 1).requires_grad_()

    def adain(c, s, eps=1e-5):
        cm, cv = c.mean((2, 3), keepdim=True), c.var((2, 3), unbiased=False, keepdim=True)
        sm, sv = s.mean((2, 3), keepdim=True), s.var((2, 3), unbiased=False, keepdim=True)
        return (c - cm) * torch.rsqrt(cv + eps) * torch.sqrt(sv + eps) + sm

    check_against_torch(nt.adain, adain, [content, style])


def test_gradients_go_only_where_autograd_asks():
    # Each backward returns every gradient it computed; autograd keeps those
    # of inputs that require one: a frozen weight, or an input that needs
    # none (the network's first layer), gets none, and the others match torch.
    x = torch.randn(4, 6) * 3 + 2
    weight, bias = torch.randn(6), torch.randn(6)
    for x_grad, weight_grad in ((False, True), (True, False)):
        grads = []
        for layer_norm in (nt.layer_norm, F.layer_norm):
            xi = x.clone().requires_grad_(x_grad)
            wi, bi = weight.clone().requires_grad_(weight_grad), bias.clone().requires_grad_(weight_grad)
            layer_norm(xi, (6,), wi, bi, 1e-5).pow(2).sum().backward()
            grads.append((xi.grad, wi.grad, bi.grad))
        (nx, nw, nb), (tx, tw, tb) = grads
        assert (nx is None) == (tx is None) == (not x_grad)
        assert (nw is None) == (nb is None) == (tw is None) == (not weight_grad)
        for got, want in ((nx, tx), (nw, tw), (nb, tb)):
            if want is not None:
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_second_derivative_raises_naming_the_op():
    x = torch.randn(3, 8, requires_grad=True)
    y = nt.layer_norm(x, 8)
    with pytest.raises(RuntimeError, match="LayerNorm's backward is normkit's kernel"):
        torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)


# ---- modules, convert and revert ------------------------------------------------------------

TORCH_NORMS = [torch.nn.BatchNorm1d(4), torch.nn.BatchNorm2d(4), torch.nn.BatchNorm3d(4), torch.nn.LayerNorm([4]),
               torch.nn.GroupNorm(2, 4), torch.nn.InstanceNorm1d(4, affine=True),
               torch.nn.InstanceNorm2d(4, track_running_stats=True), torch.nn.InstanceNorm3d(4)]


def test_convert_and_revert_swap_every_known_norm_in_place():
    model = torch.nn.Sequential(*copy.deepcopy(TORCH_NORMS))
    model[1].eval()
    keys = list(model.state_dict())
    ids = [id(m) for m in model]
    assert nt.convert(model) is model
    assert all(type(m).__module__ == "normkit.torch" for m in model)
    assert [id(m) for m in model] == ids and list(model.state_dict()) == keys
    assert not model[1].training and model[0].training
    nt.revert(model)
    assert [type(m) for m in model] == [type(m) for m in TORCH_NORMS]


def test_state_dicts_move_both_ways_and_modules_pickle_copy_and_move():
    torch_bn = torch.nn.BatchNorm2d(4)
    torch_bn(torch.randn(3, 4, 2, 2))  # running statistics that are not the initial ones
    ours = nt.BatchNorm2d(4)
    ours.load_state_dict(torch_bn.state_dict())
    back = torch.nn.BatchNorm2d(4)
    back.load_state_dict(ours.state_dict())
    for k, v in torch_bn.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    x = torch.randn(3, 4, 2, 2)
    for clone in (pickle.loads(pickle.dumps(ours)), copy.deepcopy(ours), copy.deepcopy(ours).to(torch.float32)):
        assert type(clone) is nt.BatchNorm2d
        assert torch.equal(clone.eval()(x), ours.eval()(x))
    ln = nt.LayerNorm(6).to(torch.bfloat16)  # the parameters in bfloat16, as a bf16 model keeps them
    y = ln(torch.randn(2, 6, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16


def test_modules_fall_back_to_torch_where_normkit_has_no_kernel():
    for norm in copy.deepcopy(TORCH_NORMS):
        ours = nt.convert(norm)
        meta = copy.deepcopy(ours).to("meta")  # another device: torch's own op runs
        shape = (3, 4, 5) if isinstance(norm, (torch.nn.BatchNorm1d, torch.nn.InstanceNorm1d)) else \
            (3, 4, 5, 6, 2) if isinstance(norm, (torch.nn.BatchNorm3d, torch.nn.InstanceNorm3d)) else (3, 4, 5, 4)
        assert meta(torch.zeros(shape, device="meta")).device.type == "meta"
        x = torch.randn(shape, dtype=torch.float64)
        reference = nt.revert(copy.deepcopy(ours)).double()
        torch.testing.assert_close(ours.double()(x), reference(x))  # float64: torch's op


def train_steps(model, inputs, loss_of, steps=3, lr=0.01):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        out = model(inputs)
        loss_of(out).backward()
        opt.step()
    return out


class BatchNormCallsChecked:
    """Inside the block, every normkit batch norm call is checked against
    torch's own native ops on the same inputs: y, the running statistics it
    writes, and dx, dweight, dbias for the dy that reaches it. (Eager calls
    run normkit.torch's autograd functions on every torch; its torch.library
    operators only where torch traces, tested by the compile test.)"""

    def __init__(self):
        self.calls = 0

    def check_forward(self, x, w, b, rm, rv, training, momentum, eps, y, rm_after, rv_after):
        want = torch.ops.aten.native_batch_norm(x, w, b, rm, rv, training, momentum, eps)[0]
        assert rel(want, y) < 1e-5
        if rm is not None and training:
            assert rel(rm, rm_after) < 1e-5 and rel(rv, rv_after) < 1e-5
        self.calls += 1

    @staticmethod
    def check_backward(dy, x, w, rm, rv, save_mean, save_invstd, training, eps, got):
        want = torch.ops.aten.native_batch_norm_backward(dy, x, w, rm, rv, save_mean, save_invstd, training, eps,
                                                         [True, True, True])
        for g, t in zip(got, want):
            assert g is None or g.numel() == 0 or rel(t, g) < 1e-5

    def __enter__(self):
        outer = self
        forward, backward = nt._BatchNorm.forward, nt._BatchNorm.backward

        def checked_forward(ctx, x, w, b, rm, rv, training, momentum, eps):
            rm_t, rv_t = (t.clone() if t is not None else None for t in (rm, rv))
            y = forward(ctx, x, w, b, rm, rv, training, momentum, eps)
            outer.check_forward(x, w, b, rm_t, rv_t, training, momentum, eps, y, rm, rv)
            return y

        def checked_backward(ctx, dy):
            got = backward(ctx, dy)
            outer.check_backward(dy, *ctx.saved_tensors, ctx.training, ctx.eps, got[:3])
            return got

        self.saved = (forward, backward)
        nt._BatchNorm.forward, nt._BatchNorm.backward = staticmethod(checked_forward), staticmethod(checked_backward)
        return self

    def __exit__(self, *exc):
        nt._BatchNorm.forward, nt._BatchNorm.backward = (staticmethod(f) for f in self.saved)


def test_converted_resnet18_trains_as_torch_does():
    """A converted ResNet-18 through three SGD steps: each of its batch norm
    calls gives what torch's op gives on the same inputs (to float32
    rounding), and the model's outputs, running statistics and classifier
    gradient match the unconverted model's at the first step. Later steps are
    not compared end to end: a ReLU or max-pool choice flips when a norm's
    output moves in its last bits, and torch itself moves as far with noise
    of 1e-7 on its norms' outputs (docs/torch.md)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    x, target = torch.randn(2, 3, 64, 64), torch.tensor([1, 7])
    converted = nt.convert(copy.deepcopy(model))
    first = []
    for m in (model, converted):
        m.zero_grad()
        out = m(x)
        F.cross_entropy(out, target).backward()
        first.append((out, m.fc.weight.grad.clone(), [t for t in m.buffers() if t.dtype == torch.float32]))
    assert rel(first[0][0], first[1][0]) < 1e-5
    assert rel(first[0][1], first[1][1]) < 1e-4
    assert all(rel(u, v) < 1e-5 for u, v in zip(first[0][2], first[1][2]))
    with BatchNormCallsChecked() as check:
        train_steps(converted, x, lambda out: F.cross_entropy(out, target))
        converted.eval()
        converted(x)
    assert check.calls == 4 * 20  # 20 batch norms, three training steps and an eval pass


@pytest.mark.parametrize("norm_first", [True, False])
def test_converted_transformer_encoder_layer_trains_as_torch_does(norm_first):
    torch.manual_seed(1)
    layer = torch.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True, norm_first=norm_first)
    converted = nt.convert(copy.deepcopy(layer))
    assert type(converted.norm1) is nt.LayerNorm
    x = torch.randn(3, 10, 64)
    loss_of = lambda out: out.pow(2).mean()
    a, b = train_steps(layer, x, loss_of), train_steps(converted, x, loss_of)
    assert rel(a, b) < 1e-5
    flat = lambda tensors: torch.cat([t.detach().flatten() for t in tensors])
    assert rel(flat(layer.parameters()), flat(converted.parameters())) < 1e-6
    assert rel(flat(p.grad for p in layer.parameters()), flat(p.grad for p in converted.parameters())) < 1e-4
    for p, q in zip(layer.parameters(), converted.parameters()):
        assert rel(p.grad, q.grad) < 1e-2  # the feed-forward's ReLU flips a few


def test_normkit_gradients_are_the_same_bits_for_any_thread_count():
    """normkit's layers give the same bits at 1 and 2 threads; torch 1.13's
    LayerNorm weight gradient does not (docs/torch.md)."""
    torch.manual_seed(2)
    x = torch.randn(4096, 768) * 3 + 5
    dy = torch.randn_like(x)
    results = {}
    for name, layer in (("normkit", nt.LayerNorm(768)), ("torch", torch.nn.LayerNorm(768))):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            layer.zero_grad()
            xx = x.clone().requires_grad_()
            layer(xx).backward(dy)
            results[name, threads] = (xx.grad, layer.weight.grad.clone(), layer.bias.grad.clone())
    assert all(torch.equal(u, v) for u, v in zip(results["normkit", 1], results["normkit", 2]))
    model = nt.convert(torchvision.models.resnet18(num_classes=10))
    images, target = torch.randn(2, 3, 64, 64), torch.tensor([3, 4])
    grads = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model.zero_grad()
        F.cross_entropy(model(images), target).backward()
        grads.append([p.grad.clone() for m in model.modules() if type(m) is nt.BatchNorm2d for p in m.parameters()])
    assert all(torch.equal(u, v) for u, v in zip(*grads))


def test_importing_normkit_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, normkit; assert 'torch' not in sys.modules; import normkit.torch; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


TORCH_2_4 = hasattr(torch.library, "custom_op")


@pytest.mark.skipif(not TORCH_2_4, reason="torch.library custom operators and fake tensors need torch 2.4 "
                    "(run with the bench venv's torch: README, normkit inside PyTorch)")
def test_compile_and_export_trace_converted_models():
    torch.manual_seed(3)
    model = nt.convert(torchvision.models.resnet18(num_classes=10))
    x = torch.randn(2, 3, 64, 64)
    eager = copy.deepcopy(model)
    compiled = torch.compile(copy.deepcopy(model))
    # Training: outputs, gradients and running statistics as eager.
    out_e, out_c = eager(x), compiled(x)
    out_e.sum().backward()
    out_c.sum().backward()
    assert rel(out_e, out_c) < 1e-5
    assert rel(eager.fc.weight.grad, compiled.fc.weight.grad) < 1e-4
    assert rel(eager.bn1.running_mean, compiled.bn1.running_mean) < 1e-5
    # Eval, and torch.export of it: the graph holds normkit's operators.
    model.eval()
    exported = torch.export.export(model, (x,))
    assert "normkit.batch_norm" in str(exported.graph)
    assert rel(model(x), exported.module()(x)) < 1e-5
    layer = nt.convert(torch.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True, norm_first=True))
    tokens = torch.randn(3, 10, 64)
    assert rel(layer(tokens), torch.compile(layer)(tokens)) < 1e-5


def test_ghost_batch_norm_and_batch_renorm_modules():
    """GhostBatchNorm2d: each group of samples normalized as torch's batch norm
    normalizes it alone; BatchRenorm2d: Ioffe's formula with r and d clipped
    and constant in backward; both give normkit.nn's modules' bits, keep
    BatchNorm2d's state dict, and are plain BatchNorm in eval."""
    torch.manual_seed(4)
    x = (torch.randn(8, 3, 5, 5) * 2 + 1).requires_grad_()
    ghost = nt.GhostBatchNorm2d(3, virtual_batch_size=4)
    assert list(ghost.state_dict()) == list(torch.nn.BatchNorm2d(3).state_dict())
    y = ghost(x)
    want = torch.cat([F.batch_norm(x[i:i + 4], None, None, training=True) for i in (0, 4)])
    torch.testing.assert_close(y, want, atol=2e-5, rtol=1e-4)
    dy = torch.randn_like(y)
    (dx,) = torch.autograd.grad(y, x, dy)
    (dx_want,) = torch.autograd.grad(want, x, dy)
    torch.testing.assert_close(dx, dx_want, atol=2e-5, rtol=1e-4)
    reference = normkit.nn.GhostBatchNorm2d(3, 4)
    np.testing.assert_array_equal(reference.forward(x.detach().numpy()), y.detach().numpy())
    np.testing.assert_array_equal(reference.running_mean, ghost.running_mean.numpy())

    renorm = nt.BatchRenorm2d(3, rmax=1.5, dmax=0.5, warmup_steps=0, rmax_steps=0, dmax_steps=0)
    renorm.running_mean.fill_(0.5)
    renorm.running_var.fill_(2.0)
    rm, rv = renorm.running_mean.clone(), renorm.running_var.clone()
    y = renorm(x)
    mean_b, var_b = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
    sigma_b, sigma = torch.sqrt(var_b + 1e-5), torch.sqrt(rv + 1e-5)
    r = (sigma_b / sigma).clamp(1 / 1.5, 1.5).detach()
    d = ((mean_b - rm) / sigma).clamp(-0.5, 0.5).detach()
    want = ((x - mean_b[:, None, None]) / sigma_b[:, None, None] * r[:, None, None] + d[:, None, None])
    torch.testing.assert_close(y, want, atol=2e-5, rtol=1e-4)
    (dx,) = torch.autograd.grad(y, x, dy)
    (dx_want,) = torch.autograd.grad(want, x, dy)
    torch.testing.assert_close(dx, dx_want, atol=2e-5, rtol=1e-4)
    reference = normkit.nn.BatchRenorm2d(3, rmax=1.5, dmax=0.5, warmup_steps=0, rmax_steps=0, dmax_steps=0)
    reference.running_mean[:] = 0.5
    reference.running_var[:] = 2.0
    np.testing.assert_array_equal(reference.forward(x.detach().numpy()), y.detach().numpy())
    np.testing.assert_array_equal(reference.running_var, renorm.running_var.numpy())
    for module in (ghost, renorm):
        module.eval()
        plain = torch.nn.BatchNorm2d(3).eval()
        plain.load_state_dict(module.state_dict())
        torch.testing.assert_close(module(x), plain(x))
        assert type(pickle.loads(pickle.dumps(module))) is type(module)
    with pytest.raises(ValueError, match="virtual_batch_size: expected a positive int"):
        nt.GhostBatchNorm2d(3, virtual_batch_size=0)
