"""State dicts move between PyTorch and normkit through safetensors files
written and read by the official safetensors package (PyPI): a BatchNorm and
a ResNet-8 trained a little in one are evaluated in the other with the same
outputs, both ways, and normkit's training checkpoints open in the package.
Run by tests/safetensors_interop.sh in a virtual environment that adds the
safetensors package to Debian's PyTorch and NumPy."""

import os
import subprocess

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import normkit
import normkit.io
import normkit.models
import normkit.nn

torch.manual_seed(0)


def train_a_little_torch(module, shape, steps=3):
    module.train()
    with torch.no_grad():
        for _ in range(steps):
            module(torch.randn(*shape) * 2 + 1)
    return module.eval()


def train_a_little_normkit(module, shape, steps=3):
    rng = np.random.default_rng(1)
    module.train()
    for _ in range(steps):
        module.forward((rng.normal(size=shape) * 2 + 1).astype(np.float32))
    return module.eval()


def test_torch_batch_norm_state_evaluates_the_same_in_normkit(tmp_path):
    bn = torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    train_a_little_torch(bn, (8, 5, 4, 4))
    path = str(tmp_path / "bn.safetensors")
    safetensors.torch.save_file(bn.state_dict(), path)

    ours = normkit.nn.BatchNorm2d(5)
    ours.load_state_dict(normkit.io.load_file(path))
    ours.eval()
    assert ours.num_batches_tracked == 3
    x = torch.randn(4, 5, 6, 6)
    with torch.no_grad():
        expected = bn(x).numpy()
    np.testing.assert_allclose(ours(x.numpy()), expected, rtol=1e-5, atol=1e-6)


def test_normkit_batch_norm_state_evaluates_the_same_in_torch(tmp_path):
    ours = train_a_little_normkit(normkit.nn.BatchNorm2d(5), (8, 5, 4, 4))
    path = str(tmp_path / "bn.safetensors")
    normkit.io.save_file(ours.state_dict(), path, {"format": "pt"})

    bn = torch.nn.BatchNorm2d(5)
    bn.load_state_dict(safetensors.torch.load_file(path))  # strict: same keys, shapes, dtypes
    bn.eval()
    assert int(bn.num_batches_tracked) == 3
    x = np.random.default_rng(2).normal(size=(4, 5, 6, 6)).astype(np.float32)
    with torch.no_grad():
        got = bn(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ours(x), rtol=1e-5, atol=1e-6)


class BasicBlock(torch.nn.Module):
    """normkit's post-activation residual block (nn/residual.hpp), with torchvision's names."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                  torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class GlobalAvgPool(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def torch_resnet8():
    """The PyTorch twin of normkit.models.make_model('resnet', 'bn', depth=8)."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
        GlobalAvgPool(), torch.nn.Linear(64, 10))


IMAGES = (8, 1, 28, 28)


def test_torch_resnet_state_evaluates_the_same_in_normkit(tmp_path):
    net = train_a_little_torch(torch_resnet8(), IMAGES)
    path = str(tmp_path / "resnet.safetensors")
    safetensors.torch.save_file(net.state_dict(), path)

    ours = normkit.models.make_model("resnet", "bn", seed=5, depth=8)
    state = normkit.io.load_file(path)
    assert sorted(state) == sorted(ours.state_dict())  # the same keys (the package writes them in its own order)
    ours.load_state_dict(state)
    ours.eval()
    x = torch.rand(*IMAGES)
    with torch.no_grad():
        expected = net(x).numpy()
    np.testing.assert_allclose(ours(x.numpy()), expected, rtol=1e-4, atol=1e-4)


def test_normkit_resnet_state_evaluates_the_same_in_torch(tmp_path):
    ours = train_a_little_normkit(normkit.models.make_model("resnet", "bn", seed=6, depth=8), IMAGES)
    path = str(tmp_path / "resnet.safetensors")
    normkit.io.save_file(ours.state_dict(), path)

    net = torch_resnet8()
    net.load_state_dict(safetensors.torch.load_file(path))  # strict
    net.eval()
    x = np.random.default_rng(3).random(IMAGES, dtype=np.float32)
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ours(x), rtol=1e-4, atol=1e-4)


def test_normkit_checkpoints_open_in_the_safetensors_package(tmp_path):
    cli = os.environ["NORMKIT_CLI"]
    checkpoint = str(tmp_path / "mlp.safetensors")
    subprocess.run([cli, "train", "--model", "mlp", "--norm", "bn", "--epochs", "1", "--limit", "600",
                    "--checkpoint", checkpoint], check=True, capture_output=True)
    with safetensors.safe_open(checkpoint, framework="np") as f:
        metadata = f.metadata()
        keys = list(f.keys())
    assert metadata["normkit.model"] == "mlp" and metadata["format"] == "pt"
    theirs = safetensors.numpy.load_file(checkpoint)
    ours = normkit.io.load_file(checkpoint)
    assert sorted(theirs) == sorted(ours) == sorted(keys)
    for key in ours:
        assert theirs[key].dtype == ours[key].dtype and np.array_equal(theirs[key], ours[key]), key
    # The model's part loads into normkit's MLP as it is.
    model = normkit.models.make_model("mlp", "bn")
    model.load_state_dict({k: ours[k] for k in model.state_dict()})


def test_the_readme_interop_block_runs(tmp_path, monkeypatch):
    import pathlib
    import re
    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```py\n(.*?)```", readme.read_text(), re.S)
    assert blocks, "no py block in the README"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "back.safetensors").exists()
