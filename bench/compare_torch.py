"""BatchNorm, normkit against PyTorch, side by side in one process.

Interleaved repetitions, medians and ratios (timings drift by ~15% from run to
run on a shared machine: only the ratios mean something). Uses the PyTorch
that `python3` imports (Debian's 1.13 here); `normkit bench` (issue 4) will be
the full comparison with PyTorch 2.x and oneDNN.

    PYTHONPATH=build/python /usr/bin/python3 bench/compare_torch.py --threads 2
"""

import argparse
import statistics
import time

import numpy as np

import normkit

try:
    import torch
except ImportError:  # the benchmark still runs, without the peer
    torch = None

CASES = [  # (name, shape, channels_last)
    ("BN train NCHW 32x64x56x56", (32, 64, 56, 56), False),
    ("BN train NHWC 32x64x56x56", (32, 64, 56, 56), True),
    ("BN train (N,C) 256x1024", (256, 1024), False),
]


def make(shape, channels_last, rng):
    x = rng.standard_normal(shape, dtype=np.float32)
    if channels_last:
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        x = np.moveaxis(x, -1, 1)
    return x


def timed(fn, reps):
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def family_cases(rng, torch):
    """(name, normkit call, torch call or None) for the rest of the family, forward only."""
    x = rng.standard_normal((8192, 768), dtype=np.float32)
    w = np.ones(768, np.float32)
    g = rng.standard_normal((8, 256, 56, 56), dtype=np.float32)
    cases = [
        ("LayerNorm 8192x768", lambda: normkit.layer_norm_forward(x, 768, w, w, 1e-5),
         (lambda tx=torch.from_numpy(x), tw=torch.from_numpy(w):
          torch.native_layer_norm(tx, [768], tw, tw, 1e-5)) if torch else None),
        ("RMSNorm 8192x768", lambda: normkit.rms_norm_forward(x, 768, w, 1e-5),
         (lambda tx=torch.from_numpy(x), tw=torch.from_numpy(w):
          tx * torch.rsqrt(tx.pow(2).mean(-1, keepdim=True) + 1e-5) * tw) if torch else None),
        ("GroupNorm G=32 8x256x56x56", lambda: normkit.group_norm_forward(g, None, None, 32, 1e-5),
         (lambda tg=torch.from_numpy(g): torch.nn.functional.group_norm(tg, 32)) if torch else None),
        ("InstanceNorm 8x256x56x56",
         lambda: normkit.instance_norm_forward(g, None, None, None, None, True, 0.1, 1e-5),
         (lambda tg=torch.from_numpy(g): torch.nn.functional.instance_norm(tg)) if torch else None),
    ]
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    normkit.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads={args.threads} torch={torch.__version__ if torch else 'not installed'}")
    print(f"{'case':<27} {'pass':<8} {'normkit ms':>11} {'torch ms':>9} {'speed-up':>9}")
    for name, shape, cl in CASES:
        C = shape[1]
        x, dy = make(shape, cl, rng), make(shape, cl, rng)
        rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
        _, mean, invstd = normkit.batch_norm_forward(x, None, None, rm, rv, True, 0.1, 1e-5)
        ours = {
            "fwd": lambda: normkit.batch_norm_forward(x, None, None, rm, rv, True, 0.1, 1e-5),
            "fwd+bwd": lambda: normkit.batch_norm_backward(
                dy, x, None, rm, rv, *normkit.batch_norm_forward(
                    x, None, None, rm, rv, True, 0.1, 1e-5)[1:], True, 1e-5),
        }
        theirs = {}
        if torch is not None:
            fmt = torch.channels_last if cl and len(shape) == 4 else torch.contiguous_format
            tx = torch.from_numpy(np.ascontiguousarray(x)).contiguous(memory_format=fmt)
            tdy = torch.from_numpy(np.ascontiguousarray(dy)).contiguous(memory_format=fmt)
            trm, trv = torch.zeros(C), torch.ones(C)

            def torch_fwd_bwd():
                _, m, s = torch.native_batch_norm(tx, None, None, trm, trv, True, 0.1, 1e-5)
                torch.ops.aten.native_batch_norm_backward(
                    tdy, tx, None, trm, trv, m, s, True, 1e-5, [True, True, True])

            theirs = {
                "fwd": lambda: torch.native_batch_norm(tx, None, None, trm, trv, True, 0.1, 1e-5),
                "fwd+bwd": torch_fwd_bwd,
            }
        for kind in ("fwd", "fwd+bwd"):
            a, b = [], []
            for _ in range(args.reps):  # interleaved
                a += timed(ours[kind], 1)
                if theirs:
                    b += timed(theirs[kind], 1)
            ma = statistics.median(a) * 1e3
            mb = statistics.median(b) * 1e3 if b else float("nan")
            print(f"{name:<27} {kind:<8} {ma:>11.2f} {mb:>9.2f} {mb / ma:>8.2f}x")
    for name, ours, theirs in family_cases(rng, torch):
        a, b = [], []
        for _ in range(args.reps):
            a += timed(ours, 1)
            if theirs:
                b += timed(theirs, 1)
        ma = statistics.median(a) * 1e3
        mb = statistics.median(b) * 1e3 if b else float("nan")
        print(f"{name:<27} {'fwd':<8} {ma:>11.2f} {mb:>9.2f} {mb / ma:>8.2f}x")


if __name__ == "__main__":
    main()
