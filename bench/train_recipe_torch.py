#!/usr/bin/env python3
"""The README's CNN recipe trained in PyTorch, for its accuracy and wall time
beside `normkit train`: the 4-convolution network's twin
(tests/python/vgg_twin.py: 32, 32, pool, 64, 64, pool, 3136-128-10 with
BatchNorm), SGD with momentum 0.9 and weight decay on every parameter, the
learning rate on a per-step cosine from --lr to 0 (normkit's --schedule
cosine), cross-entropy with label smoothing, optional random left-right flips
of each training image (normkit's --augment on --shift 0) and evaluation on
each test image and its mirror (normkit's --test-flips on). The same recipe,
not the same bits: PyTorch draws its own initial weights, order and flips.

usage: bench/train_recipe_torch.py [--epochs 10] [--label-smoothing 0.1] [--flips] [--test-flips]
                                   [--seed 1] [--threads 2] [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import math
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from vgg_twin import torch_vgg  # noqa: E402


def idx(path, images):
    """An IDX file of Fashion-MNIST (gzip): images as float32 in [0, 1], (N, 1, 28, 28); labels as int64."""
    with gzip.open(path, "rb") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16 if images else 8)
    if images:
        return torch.from_numpy(raw.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    return torch.from_numpy(raw.astype(np.int64))


def evaluate(net, x, y, test_flips):
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            batch = x[i:i + 1000]
            logits = net(batch)
            if test_flips:
                logits = (logits + net(torch.flip(batch, [3]))) * 0.5
            correct += (logits.argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--flips", action="store_true", help="random left-right flips of training images")
    parser.add_argument("--test-flips", action="store_true", help="average the logits of each test image and its mirror")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data = pathlib.Path(a.data)
    x_train, y_train = idx(data / "train-images-idx3-ubyte.gz", True), idx(data / "train-labels-idx1-ubyte.gz", False)
    x_test, y_test = idx(data / "t10k-images-idx3-ubyte.gz", True), idx(data / "t10k-labels-idx1-ubyte.gz", False)

    net = torch_vgg(4)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9, weight_decay=a.weight_decay)
    steps_per_epoch = len(y_train) // a.batch_size  # the last partial batch is dropped, as normkit's
    total = a.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / total)))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=a.label_smoothing)
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        net.train()
        order = torch.randperm(len(y_train))
        for step in range(steps_per_epoch):
            batch = order[step * a.batch_size:(step + 1) * a.batch_size]
            x = x_train[batch]
            if a.flips:
                mirror = torch.rand(len(batch)) < 0.5
                x = torch.where(mirror[:, None, None, None], torch.flip(x, [3]), x)
            opt.zero_grad()
            loss_fn(net(x), y_train[batch]).backward()
            opt.step()
            schedule.step()
        accuracy = evaluate(net, x_test, y_test, a.test_flips)
        print(f"epoch {epoch}/{a.epochs}  test_acc {accuracy:.4f}  {time.perf_counter() - start:.1f} s", flush=True)
    print(f"test_accuracy={accuracy:.4f}")


if __name__ == "__main__":
    main()
