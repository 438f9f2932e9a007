"""Training steps of real models with and without normkit.torch.convert, side
by side in one process (issue 21's benchmark):

  - torchvision's ResNet-18, batch 32 of 3x64x64, 10 classes;
  - a 6-layer torch.nn.TransformerEncoder (d_model 256, 4 heads, feed-forward
    1024, pre-norm), batch 16 of 128 tokens.

A step is forward, loss, backward and an SGD update. The two models (one
converted) start from the same weights and alternate step by step; each
figure is the median over the steps. The norms' time per step is measured
two ways, over more steps of each:

  - in the step, by a clock around each norm call's kernels, forward and
    backward, without the profiler: normkit's autograd functions timed
    inside, and torch's own kernels (native_batch_norm, native_layer_norm
    and their backward) run in an autograd function of the same shape and
    timed the same way; the two models' clocked steps alternate too, and
    each figure is the median of --clock-steps steps;
  - by torch.profiler, as the share of the step: the total time of each
    norm layer's outermost events (aten::batch_norm, aten::layer_norm and
    their Native*Backward0 nodes; normkit's autograd functions). The
    profiler charges a Python autograd function some tens of microseconds
    a call that a native op does not pay (its "torch in a Python function"
    row measures that), so this share is not the kernels' comparison.

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

# The outermost profiler events of a norm layer: torch's ops and autograd
# nodes, and normkit's autograd functions (eager calls run those on every
# torch) and their backward nodes.
NORM_EVENTS = ("aten::batch_norm", "aten::layer_norm", "NativeBatchNormBackward0", "NativeLayerNormBackward0",
               "_BatchNorm", "_LayerNorm", "_BatchNormBackward", "_LayerNormBackward")


class NormClock:
    """Seconds spent in norm kernels, forward and backward, while installed:
    normkit.torch's _BatchNorm and _LayerNorm timed inside, and torch's
    F.batch_norm / F.layer_norm replaced by autograd functions that run
    torch's native kernels, timed the same way."""

    def __init__(self):
        self.seconds = 0.0

    def timed(self, f, *args):
        t0 = time.perf_counter()
        out = f(*args)
        self.seconds += time.perf_counter() - t0
        return out

    def __enter__(self):
        clock = self

        class TorchBatchNorm(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, running_mean, running_var, weight, bias, training, momentum, eps):
                y, mean, invstd = clock.timed(torch.ops.aten.native_batch_norm, x, weight, bias, running_mean,
                                              running_var, training, momentum, eps)
                ctx.save_for_backward(x, weight, running_mean, running_var, mean, invstd)
                ctx.training, ctx.eps = training, eps
                return y

            @staticmethod
            def backward(ctx, dy):
                x, weight, rm, rv, mean, invstd = ctx.saved_tensors
                dx, dw, db = clock.timed(torch.ops.aten.native_batch_norm_backward, dy, x, weight, rm, rv, mean,
                                         invstd, ctx.training, ctx.eps, [True, weight is not None, weight is not None])
                return dx, None, None, dw, db, None, None, None

        class TorchLayerNorm(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, normalized_shape, weight, bias, eps):
                y, mean, rstd = clock.timed(torch.ops.aten.native_layer_norm, x, list(normalized_shape), weight,
                                            bias, eps)
                ctx.save_for_backward(x, weight, bias, mean, rstd)
                ctx.normalized_shape = list(normalized_shape)
                return y

            @staticmethod
            def backward(ctx, dy):
                x, weight, bias, mean, rstd = ctx.saved_tensors
                dx, dw, db = clock.timed(torch.ops.aten.native_layer_norm_backward, dy, x, ctx.normalized_shape,
                                         mean, rstd, weight, bias, [True, weight is not None, bias is not None])
                return dx, None, dw, db, None

        def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                       eps=1e-5):
            return TorchBatchNorm.apply(x, running_mean, running_var, weight, bias, training, momentum, eps)

        def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
            return TorchLayerNorm.apply(x, tuple(normalized_shape), weight, bias, eps)

        self.saved = [(F, "batch_norm", F.batch_norm), (F, "layer_norm", F.layer_norm)]
        F.batch_norm, F.layer_norm = batch_norm, layer_norm
        for fn in (nt._BatchNorm, nt._LayerNorm):
            forward, backward = fn.forward, fn.backward
            self.saved += [(fn, "forward", staticmethod(forward)), (fn, "backward", staticmethod(backward))]
            fn.forward = staticmethod(lambda ctx, *a, f=forward: clock.timed(f, ctx, *a))
            fn.backward = staticmethod(lambda ctx, *g, f=backward: clock.timed(f, ctx, *g))
        return self

    def __exit__(self, *exc):
        for owner, name, value in self.saved:
            setattr(owner, name, value)


def clocked_norm_ms(steps, count):
    """Each model's norm kernels' milliseconds per step, by NormClock: the
    models' steps alternate, as the timed steps do (a burst of the machine's
    noise then falls on both), and each figure is the median over `count`
    steps."""
    per_step = {k: [] for k in steps}
    with NormClock() as clock:
        for _ in range(count):
            for k, step in steps.items():
                before = clock.seconds
                step()
                per_step[k].append((clock.seconds - before) * 1e3)
    return {k: statistics.median(v) for k, v in per_step.items()}


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
    """(norm ms per step, profiled step ms) from the profiler's events."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        wall = (time.perf_counter() - t0) / steps
    norm_us = sum(event.cpu_time_total for event in prof.key_averages() if event.key in NORM_EVENTS)
    return norm_us / 1e3 / steps, wall * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12, help="timed steps of each model")
    parser.add_argument("--clock-steps", type=int, default=12, help="steps of each model with the norms clocked")
    parser.add_argument("--profile-steps", type=int, default=3, help="profiled steps of each model")
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
        norm_ms = clocked_norm_ms(steps, args.clock_steps)
        for k in steps:
            profile_norm_ms, profiled_ms = norm_share(steps[k], args.profile_steps)
            row[k] = {"step_ms": statistics.median(times[k]), "norm_ms": norm_ms[k],
                      "profile_norm_ms": profile_norm_ms, "profiled_step_ms": profiled_ms}
        row["step_speedup"] = row["torch"]["step_ms"] / row["normkit"]["step_ms"]
        row["norm_speedup"] = row["torch"]["norm_ms"] / max(row["normkit"]["norm_ms"], 1e-9)
        row["profile_norm_speedup"] = row["torch"]["profile_norm_ms"] / max(row["normkit"]["profile_norm_ms"], 1e-9)
        rows.append(row)
        share = {k: 100 * row[k]["profile_norm_ms"] / row[k]["profiled_step_ms"] for k in steps}
        print(f"{name:36s} torch {torch.__version__}: step {row['torch']['step_ms']:8.1f} ms -> "
              f"{row['normkit']['step_ms']:8.1f} ms converted ({row['step_speedup']:.2f}x); norm kernels "
              f"{row['torch']['norm_ms']:6.1f} -> {row['normkit']['norm_ms']:6.1f} ms ({row['norm_speedup']:.2f}x); "
              f"profiler: norms {row['torch']['profile_norm_ms']:6.1f} ms ({share['torch']:.0f}% of the step) -> "
              f"{row['normkit']['profile_norm_ms']:6.1f} ms ({share['normkit']:.0f}%), "
              f"{row['profile_norm_speedup']:.2f}x", flush=True)
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
