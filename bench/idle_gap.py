"""What a gap before a call costs it: the same calls timed warm (back to
back) and right after a pause of the calling thread (time.sleep: no work
at all) or after a matrix product (what a training step puts between its
norm calls), alternating in one process.

On a machine where the caches and the OpenMP threads stay as they were, a
pause costs the next call nothing. On the 2-vCPU virtual machines this
project is measured on, 3 ms or more of anything else (a sleep as much as a
matmul) makes the next call pay for caches, TLBs and threads gone cold:
the per-call figures of bench/torch_models.py are taken in that state.

    PYTHONPATH=build/python /usr/bin/python3 bench/idle_gap.py
    PYTHONPATH=build/python .venv-bench/bin/python bench/idle_gap.py
"""

import argparse
import statistics
import time

import torch

import normkit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60, help="calls of each case after each gap")
    args = parser.parse_args()
    torch.manual_seed(0)
    d = 256
    one_row, out = torch.rand(1, d), torch.empty(1, d)
    x, weight, bias = torch.rand(2048, d), torch.rand(d), torch.rand(d)
    wide = torch.rand(2, 32768)  # two threads' worth for normkit (65536 elements), a short kernel
    a, b, product = torch.rand(2048, 1024), torch.rand(1024, d), torch.empty(2048, d)

    calls = {
        "torch.add, one row": lambda: torch.add(one_row, one_row, out=out),
        "LayerNorm (2048, 256), normkit": lambda: normkit.layer_norm_forward(x, (d,), weight, bias, 1e-5),
        "LayerNorm (2048, 256), torch": lambda: torch.ops.aten.native_layer_norm(x, [d], weight, bias, 1e-5),
        "LayerNorm (2, 32768), normkit": lambda: normkit.layer_norm_forward(wide, (32768,), None, None, 1e-5),
    }
    gaps = {
        "none (again)": None,  # the call run twice, the second timed
        "sleep 1 ms": lambda: time.sleep(0.001),
        "sleep 3 ms": lambda: time.sleep(0.003),
        "sleep 10 ms": lambda: time.sleep(0.01),
        "matmul": lambda: torch.mm(a, b, out=product),
    }
    for threads in (1, 2):
        torch.set_num_threads(threads)
        normkit.set_num_threads(threads)
        seconds = {(g, c): [] for g in gaps for c in calls}
        for _ in range(args.repeat):
            for g, gap in gaps.items():
                for c, call in calls.items():
                    if gap is None:
                        call()
                    else:
                        gap()
                    t0 = time.perf_counter()
                    call()
                    seconds[(g, c)].append(time.perf_counter() - t0)
        print(f"torch {torch.__version__}, torch.set_num_threads({threads}); medians in us of {args.repeat} calls")
        print(f"{'call':44s}" + "".join(f"{g:>13s}" for g in gaps))
        for c in calls:
            print(f"{c:44s}" + "".join(f"{statistics.median(seconds[(g, c)]) * 1e6:13.1f}" for g in gaps))
        print()


if __name__ == "__main__":
    main()
