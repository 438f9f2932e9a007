"""The cost of one call from Python at decode sizes: normkit's functional API
against torch.nn.functional.layer_norm / rms_norm (rms_norm: PyTorch 2.4 and
newer), interleaved in one process, medians of many calls, 1 and 2 threads.

    PYTHONPATH=build/python .venv-bench/bin/python bench/python_calls.py [OUT.csv]

At these sizes the work is a few microseconds: what is measured is mostly
what a call costs (argument checks, allocation of the outputs, dispatch).
"""

import csv
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import normkit

EPS = 1e-5
SHAPES = [(1, 4096), (32, 4096)]
REPS = 2000


def median_us(runs, rounds=4, untimed=50):
    """Each run's calls in blocks, back to back after untimed ones, the runs
    alternating over rounds (as `normkit bench` times short calls: two
    libraries' thread pools must not spin against each other); medians in
    microseconds."""
    samples = [[] for _ in runs]
    for _ in range(rounds):
        for i, run in enumerate(runs):
            for _ in range(untimed):
                run()
            for _ in range(REPS // rounds):
                t0 = time.perf_counter()
                run()
                samples[i].append(time.perf_counter() - t0)
    return [statistics.median(s) * 1e6 for s in samples]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else None
    rows = []
    rng = np.random.default_rng(0)
    has_rms = hasattr(F, "rms_norm")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        normkit.set_num_threads(threads)
        for shape in SHAPES:
            x = rng.standard_normal(shape, dtype=np.float32)
            w, b = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)
            tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
            cases = [("layer_norm", lambda: normkit.layer_norm_forward(x, [shape[1]], w, b, EPS),
                      lambda: F.layer_norm(tx, [shape[1]], tw, tb, EPS))]
            if has_rms:
                cases.append(("rms_norm", lambda: normkit.rms_norm_forward(x, [shape[1]], w, EPS),
                              lambda: F.rms_norm(tx, [shape[1]], tw, EPS)))
            with torch.no_grad():
                for op, ours, theirs in cases:
                    t_ours, t_theirs = median_us([ours, theirs])
                    rows.append({"op": op, "shape": "x".join(map(str, shape)), "threads": threads,
                                 "normkit_us": round(t_ours, 2), "torch_us": round(t_theirs, 2),
                                 "torch": torch.__version__, "normkit_speedup": round(t_theirs / t_ours, 2)})
    print(f"{'op':<11} {'shape':<8} thr  normkit us  torch {torch.__version__} us  speed-up")
    for r in rows:
        print(f"{r['op']:<11} {r['shape']:<8} {r['threads']:>3} {r['normkit_us']:>11.2f} "
              f"{r['torch_us']:>19.2f} {r['normkit_speedup']:>9.2f}x")
    if not has_rms:
        print(f"(torch {torch.__version__} has no F.rms_norm: RMSNorm not compared)")
    if out:
        with open(out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print("wrote", out)


if __name__ == "__main__":
    main()
