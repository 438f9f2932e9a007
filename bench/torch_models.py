"""Training steps of real models with and without normkit.torch.convert, side
by side in one process (issue 21's benchmark):

  - torchvision's ResNet-18, batch 32 of 3x64x64, 10 classes;
  - a 6-layer torch.nn.TransformerEncoder (d_model 256, 4 heads, feed-forward
    1024, pre-norm), batch 16 of 128 tokens.

A step is forward, loss, backward and an SGD update. The two models (one
converted) start from the same weights and alternate step by step; each
figure is the median over the steps. The profile (torch.profiler, a few more
steps of each) gives the share of the step its normalization takes: the
self time of every norm op, forward and backward (torch's native_batch_norm
and native_layer_norm and their backward, or normkit's).

    PYTHONPATH=build/python /usr/bin/python3 bench/torch_models.py --threads 2
    PYTHONPATH=build/python .venv-bench/bin/python bench/torch_models.py --threads 2

prints a table and, with --out DIR, writes DIR/torch_models-<torch version>.json.
"""

import argparse
import copy
import json
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

import normkit
import normkit.torch as nt

# Profiler event names that are normalization: torch's ATen ops, and
# normkit's (its operators on torch 2.4+, its autograd functions before).
NORM_EVENTS = ("native_batch_norm", "native_layer_norm", "batch_norm_backward", "layer_norm_backward",
               "normkit::", "_BatchNorm", "_LayerNorm", "_GroupNorm", "_RMSNorm", "_InstanceNorm")


def resnet18():
    import torchvision
    model = torchvision.models.resnet18(num_classes=10)
    x, target = torch.randn(32, 3, 64, 64), torch.randint(0, 10, (32,))
    return model, x, lambda out: F.cross_entropy(out, target)


def encoder():
    layer = torch.nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True, norm_first=True)
    model = torch.nn.TransformerEncoder(layer, 6)
    x = torch.randn(16, 128, 256)
    return model, x, lambda out: out.pow(2).mean()


def step_fn(model, x, loss_of):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_of(model(x)).backward()
        opt.step()

    return step


def norm_share(step, steps):
    """(norm ms per step, profiled step ms) from the profiler's self times."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        wall = (time.perf_counter() - t0) / steps
    norm_us = 0.0
    for event in prof.key_averages():
        if any(name in event.key for name in NORM_EVENTS):
            norm_us += event.self_cpu_time_total
    return norm_us / 1e3 / steps, wall * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12, help="timed steps of each model")
    parser.add_argument("--profile-steps", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for name, make in (("ResNet-18 b32 64x64", resnet18), ("TransformerEncoder 6x256 b16 t128", encoder)):
        model, x, loss_of = make()
        converted = nt.convert(copy.deepcopy(model))
        steps = {"torch": step_fn(model, x, loss_of), "normkit": step_fn(converted, x, loss_of)}
        for step in steps.values():  # warm-up: allocations, first-call costs
            step()
            step()
        times = {k: [] for k in steps}
        for _ in range(args.steps):  # alternating, step by step
            for k, step in steps.items():
                t0 = time.perf_counter()
                step()
                times[k].append((time.perf_counter() - t0) * 1e3)
        row = {"model": name, "threads": args.threads, "torch_version": torch.__version__}
        for k in steps:
            norm_ms, profiled_ms = norm_share(steps[k], args.profile_steps)
            row[k] = {"step_ms": statistics.median(times[k]), "norm_ms": norm_ms, "profiled_step_ms": profiled_ms}
        row["step_speedup"] = row["torch"]["step_ms"] / row["normkit"]["step_ms"]
        row["norm_speedup"] = row["torch"]["norm_ms"] / max(row["normkit"]["norm_ms"], 1e-9)
        rows.append(row)
        print(f"{name:36s} torch {torch.__version__}: step {row['torch']['step_ms']:8.1f} ms -> "
              f"{row['normkit']['step_ms']:8.1f} ms converted ({row['step_speedup']:.2f}x); norms "
              f"{row['torch']['norm_ms']:7.1f} ms ({100 * row['torch']['norm_ms'] / row['torch']['profiled_step_ms']:.0f}%"
              f" of the step) -> {row['normkit']['norm_ms']:7.1f} ms "
              f"({100 * row['normkit']['norm_ms'] / row['normkit']['profiled_step_ms']:.0f}%), "
              f"{row['norm_speedup']:.2f}x", flush=True)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        machine = {"cpu": platform.processor() or platform.machine(), "simd_path": normkit.simd_path(),
                   "normkit": normkit.__version__}
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    machine["cpu"] = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        path = os.path.join(args.out, f"torch_models-{torch.__version__.split('+')[0]}.json")
        with open(path, "w") as f:
            json.dump({"machine": machine, "rows": rows}, f, indent=2)
        print("wrote", path)


if __name__ == "__main__":
    main()
