#!/usr/bin/env python3
"""One training step at batch 128: normkit beside PyTorch, in one run.

--model cnn: the lab's CNN (two 3x3 conv blocks of 16 and 32 channels with
BatchNorm, ReLU and 2x2 max pooling, then 1568-128-10) takes one SGD step
(forward, cross-entropy, backward, momentum update) in both. --model vgg4:
the README's CNN recipe network (`--model vgg --depth 4`: 3x3 convolutions of
32, 32, 64 and 64 channels with BatchNorm, two 2x2 poolings, 3136-128-10) and
its PyTorch twin (tests/python/vgg_twin.py), one SGD step. --model vit: the
README's ViT recipe network (7x7 patches, 6 pre-norm blocks of 64 features,
4 heads, MLP 128, LayerNorm) and its PyTorch twin (tests/python/vit_twin.py:
torch.nn.TransformerEncoderLayer blocks, the same state-dict keys) take one
AdamW step. PyTorch is the newest
installed: run this with .venv-bench/bin/python for PyPI's current release
(scripts/setup-bench-venv.sh) or /usr/bin/python3 for Debian's 1.13. The two
are timed in alternating rounds (normkit's in a child process,
`normkit step-time`), and the medians of the rounds' medians are compared.

usage: bench/train_step.py [--model cnn|vgg4|vit] [--threads 2] [--rounds 5] [--steps 20] [--cli build/normkit]
"""
import argparse
import pathlib
import re
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from vgg_twin import torch_vgg  # noqa: E402
from vit_twin import torch_vit  # noqa: E402

# The ViT of the README's recipe, as step-time's flags and torch_vit's arguments.
VIT = {"depth": 6, "dim": 64, "heads": 4, "patch": 7, "mlp_ratio": 2}


def torch_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_step_ms(net, opt, x, y, steps):
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def torch_model(model):
    """The network and its optimizer, as step-time builds normkit's."""
    if model in ("cnn", "vgg4"):
        net = (torch_cnn() if model == "cnn" else torch_vgg(4)).train()
        return net, torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    net = torch_vit(VIT["depth"], VIT["dim"], VIT["heads"], VIT["patch"], VIT["mlp_ratio"], pre=True).train()
    return net, torch.optim.AdamW(net.parameters(), lr=1e-3)


def normkit_step_ms(cli, model, threads, steps, batch):
    flags = ["--model", "cnn", "--norm", "bn"]
    if model == "vgg4":
        flags = ["--model", "vgg", "--depth", "4", "--norm", "bn"]
    if model == "vit":
        flags = ["--model", "vit", "--norm", "ln", "--optimizer", "adamw"]
        for key in ("depth", "dim", "heads", "patch", "mlp_ratio"):
            flags += ["--" + key.replace("_", "-"), str(VIT[key])]
    out = subprocess.run([cli, "step-time", *flags, "--batch-size", str(batch),
                          "--steps", str(steps), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"median=([0-9.]+)", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["cnn", "vgg4", "vit"], default="cnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--cli", default=str(ROOT / "build" / "normkit"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net, opt = torch_model(args.model)
    x = torch.rand(args.batch_size, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch_size,))
    torch_step_ms(net, opt, x, y, 3)  # warm-up
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(normkit_step_ms(args.cli, args.model, args.threads, args.steps, args.batch_size))
        theirs.append(torch_step_ms(net, opt, x, y, args.steps))
    n, t = statistics.median(ours), statistics.median(theirs)
    print(f"{args.model.upper()} training step, batch {args.batch_size}, {args.threads} threads, "
          f"medians of {args.rounds} alternating rounds of {args.steps} steps")
    theirs_name = "PyTorch " + torch.__version__.split("+")[0]
    print(f"  {'normkit':<18}{n:8.2f} ms   (rounds: {', '.join(f'{v:.1f}' for v in ours)})")
    print(f"  {theirs_name:<18}{t:8.2f} ms   (rounds: {', '.join(f'{v:.1f}' for v in theirs)})")
    print(f"  PyTorch / normkit: {t / n:.2f}x")


if __name__ == "__main__":
    main()
