"""DyT through the functional API: PyTorch's composite (weight *
torch.tanh(alpha * x) + bias, with autograd) on random shapes and layouts,
torch tensors in and out, the same bits for any thread count, and its
errors."""

import numpy as np
import pytest
import torch

import normkit


def composite(x, alpha, weight, bias):
    y = torch.tanh(alpha * x)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


@pytest.mark.parametrize("shape", [(7,), (3, 17), (2, 5, 33), (65, 16), (4, 3, 2, 47)])
@pytest.mark.parametrize("affine", [True, False])
def test_matches_torch_forward_and_autograd(shape, affine):
    torch.manual_seed(len(shape) * 10 + affine)
    C = shape[-1]
    x = (torch.randn(*shape, dtype=torch.float64) * 2 + 0.3).requires_grad_()
    alpha = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    w = (torch.rand(C, dtype=torch.float64) + 0.5).requires_grad_() if affine else None
    b = torch.randn(C, dtype=torch.float64).requires_grad_() if affine else None
    y = composite(x, alpha, w, b)
    dy = torch.randn_like(y)
    wanted = torch.autograd.grad(y, [t for t in (x, alpha, w, b) if t is not None], dy)
    f32 = lambda t: None if t is None else t.detach().float().numpy()  # noqa: E731
    got_y = normkit.dyt_forward(f32(x), f32(alpha), f32(w), f32(b))
    np.testing.assert_allclose(got_y, y.detach().numpy(), rtol=1e-5, atol=1e-6)
    dx, dalpha, dweight, dbias = normkit.dyt_backward(f32(dy), f32(x), f32(alpha), f32(w))
    np.testing.assert_allclose(dx, wanted[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dalpha, wanted[1].numpy(), rtol=1e-4, atol=1e-5)
    assert dalpha.shape == (1,)
    if affine:
        np.testing.assert_allclose(dweight, wanted[2].numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(dbias, wanted[3].numpy(), rtol=1e-4, atol=1e-5)
    else:
        assert dweight is None
        rows = dy.reshape(-1, dy.shape[-1])  # (a sum over dims=() would be over every dim)
        np.testing.assert_allclose(dbias, rows.sum(dim=0).numpy(), rtol=1e-5, atol=1e-5)


def test_strided_and_torch_tensors():
    """A permuted torch view in, torch tensors out, the contiguous call's bits."""
    torch.manual_seed(5)
    base = torch.randn(6, 4, 32)
    x = base.transpose(0, 1)  # (4, 6, 32), rows at offsets of their own
    alpha, w, b = torch.tensor([0.5]), torch.rand(32) + 0.5, torch.randn(32)
    y = normkit.dyt_forward(x, alpha, w, b)
    assert isinstance(y, torch.Tensor) and y.shape == (4, 6, 32)
    assert torch.equal(y, normkit.dyt_forward(x.contiguous(), alpha, w, b))
    dy = torch.randn(4, 6, 32)
    strided = normkit.dyt_backward(dy, x, alpha, w)
    contiguous = normkit.dyt_backward(dy, x.contiguous(), alpha, w)
    for s, c in zip(strided, contiguous):
        assert torch.equal(s, c)


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(3)
    x = rng.normal(0.2, 2.0, (300, 129)).astype(np.float32)
    dy = rng.normal(0.0, 1.0, x.shape).astype(np.float32)
    alpha, w, b = np.array([0.6], np.float32), rng.random(129, np.float32) + 0.5, rng.random(129, np.float32)
    before = normkit.num_threads()
    results = []
    for threads in (1, 2):
        normkit.set_num_threads(threads)
        results.append([normkit.dyt_forward(x, alpha, w, b), *normkit.dyt_backward(dy, x, alpha, w)])
    normkit.set_num_threads(before)
    for a, b_ in zip(*results):
        assert a.tobytes() == b_.tobytes()


def test_errors_name_the_argument():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(normkit.Error, match=r"alpha: expected a float32 tensor of one element, shape \(1,\) or \(\), got float32 of shape \(2,\)"):
        normkit.dyt_forward(x, np.zeros(2, np.float32), None, None)
    with pytest.raises(normkit.Error, match=r"weight: expected shape \(3,\), got \(4,\)"):
        normkit.dyt_forward(x, np.ones(1, np.float32), np.ones(4, np.float32), None)


class DynamicTanh(torch.nn.Module):
    """Zhu et al. 2025's module (channels last), as their code defines it."""

    def __init__(self, normalized_shape, alpha_init_value=0.5):
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.ones(1) * alpha_init_value)
        self.weight = torch.nn.Parameter(torch.ones(normalized_shape))
        self.bias = torch.nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x):
        return torch.tanh(self.alpha * x) * self.weight + self.bias


def test_module_is_the_papers_module():
    """normkit.nn.DyT: the paper's parameters and state-dict keys; loaded
    with a trained DynamicTanh's state, the same outputs and gradients."""
    torch.manual_seed(9)
    theirs = DynamicTanh(24, alpha_init_value=0.8)
    assert list(normkit.nn.DyT(24, alpha_init_value=0.8).state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        theirs.weight.mul_(torch.rand(24) + 0.5)
        theirs.bias.add_(torch.randn(24))
    ours = normkit.nn.DyT(24)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = torch.randn(5, 7, 24) * 2
    y = theirs(x)
    np.testing.assert_allclose(ours.forward(x.numpy()), y.detach().numpy(), rtol=1e-5, atol=1e-6)
    dy = torch.randn_like(y)
    xg = x.clone().requires_grad_()
    dx_want = torch.autograd.grad(theirs(xg), [xg], dy)[0]
    theirs.zero_grad()
    theirs(x).backward(dy)
    np.testing.assert_allclose(ours.backward(dy.numpy()), dx_want.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.alpha_grad, theirs.alpha.grad.numpy(), rtol=1e-4)
    np.testing.assert_allclose(ours.weight_grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.bias_grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5)
