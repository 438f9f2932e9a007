"""The ONNX Runtime peer of `normkit bench`, run by the benchmark venv's Python.

ONNX Runtime's wheel ships no C headers, so its CPU kernels are timed from
Python, as most of its users call them: one single-node model per case, run
with its inputs and outputs bound once (IOBinding: no copy or allocation per
run), with `threads` intra-op threads. normkit is timed beside it in this
process through its Python module, interleaved, so that both pay one Python
call per run and the ratio is side by side.

    ort_peer.py CASES.json THREADS BUDGET OUT.json

CASES.json is what `normkit bench` writes: a list of {"op" (the peers' name:
ln_fwd, rms_fwd, bn_eval_fwd, bn_train_fwd, gn_fwd, in_fwd), "title", "label",
"shape", "channels_last", "groups", "dtype", "in_cache" (how to time it)}.
A bfloat16 or float16 case runs ORT's row norms (LayerNormalization,
SimplifiedLayerNormalization and the Skip ops, whose CPU kernels take them)
with every input in that dtype, as an exported half-precision model has them.
OUT.json is a child report in the format of bench.json: rows with timings
[normkit, onnxruntime-VERSION].
"""

import functools
import json
import os
import statistics
import sys
import time

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

import normkit

EPS = 1e-5
# A case's dtype as NumPy and ONNX name it.
NUMPY_DTYPE = {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
ONNX_DTYPE = {"float32": TensorProto.FLOAT, "bfloat16": TensorProto.BFLOAT16, "float16": TensorProto.FLOAT16}


def model(node, inputs, output_shape, opset, outputs=("y",), dtype="float32"):
    """A one-node model whose tensors are all of `dtype`: `inputs` are (name,
    shape); `outputs` the graph's outputs, each of output_shape (Microsoft's
    contrib domain is imported too, for the Skip ops)."""
    elem = ONNX_DTYPE[dtype]
    graph = helper.make_graph(
        [node],
        "case",
        [helper.make_tensor_value_info(n, elem, list(s)) for n, s in inputs],
        [helper.make_tensor_value_info(o, elem, list(output_shape)) for o in outputs],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m.SerializeToString()


def ort_case(case, x):
    """(model bytes, {input name: array}) for ORT's kernel of the case, or
    None; x is the float32 draw, rounded with every other input to the
    case's dtype."""
    made = float32_case(case, x)
    dtype = case.get("dtype", "float32")
    if made is None or (dtype != "float32" and case["op"] not in ("ln_fwd", "rms_fwd", "add_ln_fwd", "add_rms_fwd")):
        return None
    node, inputs, output_shape, opset, outputs, feeds = made
    return (model(node, inputs, output_shape, opset, outputs, dtype),
            {n: a.astype(NUMPY_DTYPE[dtype]) for n, a in feeds.items()})


def float32_case(case, x):
    """The float32 model's parts: (node, inputs, output shape, opset,
    outputs, feeds), or None."""
    op, shape = case["op"], tuple(case["shape"])
    if case["channels_last"]:
        return None  # ORT's CPU norms take NCHW
    outputs = ("y",)
    if op in ("ln_fwd", "rms_fwd") and len(shape) == 2:
        cols = shape[1]
        feeds = {"x": x, "w": np.ones(cols, np.float32)}
        if op == "ln_fwd":
            feeds["b"] = np.zeros(cols, np.float32)
            node = helper.make_node("LayerNormalization", ["x", "w", "b"], ["y"], axis=-1, epsilon=EPS)
            opset = 17
        else:
            # The op ORT's transformer fusions produce for RMSNorm (its
            # onnx-domain contrib op, on the same MLAS kernel as LayerNorm).
            node = helper.make_node("SimplifiedLayerNormalization", ["x", "w"], ["y"], axis=-1, epsilon=EPS)
            opset = 17
    elif op in ("add_ln_fwd", "add_rms_fwd") and len(shape) == 2:
        # ONNX Runtime's fused residual add + norm (its transformer fusions'
        # SkipLayerNormalization and SkipSimplifiedLayerNormalization), on
        # (1, rows, cols); the sum is its fourth output, as add_*_forward's
        # residual_out.
        cols = shape[1]
        shape = (1,) + shape
        x3 = x.reshape(shape)
        r = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
        feeds = {"x": x3, "r": r, "w": np.ones(cols, np.float32)}
        if op == "add_ln_fwd":
            feeds["b"] = np.zeros(cols, np.float32)
            node = helper.make_node("SkipLayerNormalization", ["x", "r", "w", "b"], ["y", "", "", "s"],
                                    domain="com.microsoft", epsilon=EPS)
        else:
            node = helper.make_node("SkipSimplifiedLayerNormalization", ["x", "r", "w"], ["y", "", "", "s"],
                                    domain="com.microsoft", epsilon=EPS)
        outputs, opset = ("y", "s"), 17
    elif op in ("bn_eval_fwd", "bn_train_fwd") and len(shape) == 4:
        c = shape[1]
        feeds = {"x": x, "w": np.ones(c, np.float32), "b": np.zeros(c, np.float32),
                 "m": np.zeros(c, np.float32), "v": np.ones(c, np.float32)}
        if op == "bn_eval_fwd":
            node = helper.make_node("BatchNormalization", ["x", "w", "b", "m", "v"], ["y"], epsilon=EPS)
        else:
            node = helper.make_node("BatchNormalization", ["x", "w", "b", "m", "v"], ["y", "rm", "rv"],
                                    epsilon=EPS, training_mode=1)
        opset = 15
    elif op == "gn_fwd" and len(shape) == 4:
        c = shape[1]
        feeds = {"x": x, "w": np.ones(c, np.float32), "b": np.zeros(c, np.float32)}
        node = helper.make_node("GroupNormalization", ["x", "w", "b"], ["y"], num_groups=case["groups"], epsilon=EPS)
        opset = 21
    elif op == "in_fwd" and len(shape) == 4:
        c = shape[1]
        feeds = {"x": x, "w": np.ones(c, np.float32), "b": np.zeros(c, np.float32)}
        node = helper.make_node("InstanceNormalization", ["x", "w", "b"], ["y"], epsilon=EPS)
        opset = 6
    else:
        return None
    inputs = [(n, a.shape) for n, a in feeds.items()]
    return node, inputs, shape, opset, outputs, feeds


def normkit_call(case, x):
    """normkit's Python call for the same case (the same arguments as ORT's)."""
    op, shape = case["op"], case["shape"]
    if op == "ln_fwd":
        w, b = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)
        return lambda: normkit.layer_norm_forward(x, [shape[1]], w, b, EPS)
    if op == "rms_fwd":
        w = np.ones(shape[1], np.float32)
        return lambda: normkit.rms_norm_forward(x, [shape[1]], w, EPS)
    if op in ("add_ln_fwd", "add_rms_fwd"):
        r = np.random.default_rng(1).standard_normal(tuple(shape), dtype=np.float32).astype(x.dtype)
        w, b = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)
        if op == "add_ln_fwd":
            return lambda: normkit.add_layer_norm_forward(x, r, [shape[1]], w, b, EPS)
        return lambda: normkit.add_rms_norm_forward(x, r, [shape[1]], w, EPS)
    c = shape[1]
    w, b = np.ones(c, np.float32), np.zeros(c, np.float32)
    m, v = np.zeros(c, np.float32), np.ones(c, np.float32)
    if op in ("bn_eval_fwd", "bn_train_fwd"):
        training = op == "bn_train_fwd"
        return lambda: normkit.batch_norm_forward(x, w, b, m, v, training, 0.1, EPS)
    if op == "gn_fwd":
        return lambda: normkit.group_norm_forward(x, w, b, case["groups"], EPS)
    return lambda: normkit.instance_norm_forward(x, w, b, None, None, True, 0.1, EPS)


def session(model_bytes, feeds, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Its workers spin after a run for a while (as normkit's OpenMP threads
    # do, for GOMP_SPINCOUNT in peer_onnxruntime_pypi.command): long enough
    # to stay awake through a loop of calls, short enough that they are
    # quiet before normkit's block of runs (time_pair).
    options.add_session_config_entry("session.intra_op.spin_duration_us", "100")
    sess = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    binding = sess.io_binding()
    for name, array in feeds.items():
        if array.dtype == ml_dtypes.bfloat16:  # NumPy has no bfloat16 of its own for ORT to take
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                array.view(np.uint16), TensorProto.BFLOAT16))
        else:
            binding.bind_cpu_input(name, array)
    for out in sess.get_outputs():
        binding.bind_output(out.name, "cpu")
    sess.run_with_iobinding(binding)  # allocates the outputs once; later runs reuse them
    return lambda: sess.run_with_iobinding(binding)


# As in src/bench/harness.hpp.
ROUNDS, UNTIMED_RUNS, MOST_RUNS = 8, 3, 200


@functools.lru_cache(maxsize=1)
def cache_sized_buffer():
    """At least 64 MiB, and twice the L3 where sysconf knows it."""
    try:
        l3 = os.sysconf("SC_LEVEL3_CACHE_SIZE") or 0
    except (ValueError, OSError):
        l3 = 0
    return np.ones(max(2 * l3, 64 << 20) // 4, dtype=np.float32)


def leave_caches():
    """Reads a line of every 64 bytes of cache_sized_buffer(), as the C++
    harness does before each interleaved call, so that neither call
    inherits the other's data or dirty lines in the caches."""
    return float(cache_sized_buffer()[::16].sum())


def time_pair(runs, budget_s, in_cache, min_reps=5):
    """Medians in seconds, and each later run's time over the first's paired
    as the C++ harness pairs them (src/bench/speedup_interval.hpp: run by run, or
    round by round by the blocks' medians), timed as it times a case: a case
    that fits a cache (the case's "in_cache", from normkit bench) in blocks
    of back-to-back runs (after untimed ones) alternating over rounds (two
    thread pools, ORT's and normkit's OpenMP, must not spin against each
    other); a DRAM-sized one interleaved run by run, each after
    leave_caches()."""
    for run in runs:
        run()  # warm-up
    samples = [[] for _ in runs]
    paired = [[] for _ in runs]

    def time_one(i):
        t0 = time.perf_counter()
        runs[i]()
        samples[i].append(time.perf_counter() - t0)

    if in_cache:
        block_s = budget_s / (ROUNDS * len(runs))
        for _ in range(ROUNDS):
            for i, run in enumerate(runs):
                for _ in range(UNTIMED_RUNS):
                    run()
                block_start = time.perf_counter()
                first = len(samples[i])
                k = 0
                while k < MOST_RUNS // ROUNDS and (k * ROUNDS < min_reps or time.perf_counter() - block_start < block_s):
                    time_one(i)
                    k += 1
                paired[i].append(statistics.median(samples[i][first:]))
    else:
        start = time.perf_counter()
        rep = 0
        while rep < MOST_RUNS and (rep < min_reps or time.perf_counter() - start < budget_s):
            for i in range(len(runs)):
                leave_caches()
                time_one(i)
            rep += 1
        paired = samples
    ratios = [[t / o for t, o in zip(p, paired[0])] for p in paired[1:]]
    return [statistics.median(s) for s in samples], ratios


def main():
    cases_path, threads, budget_s, out_path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    cases = json.load(open(cases_path))
    name = "onnxruntime-" + ort.__version__
    # Held to the first `threads` CPUs when there are more, as normkit bench
    # holds its other peers' processes (src/cli/bench.cpp, pin_to_first_cpus).
    allowed = sorted(os.sched_getaffinity(0))
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    normkit.set_num_threads(threads)
    notes, rows = [f"peer {name} loaded from bench/peers/ort_peer.py (from Python, beside normkit's Python call)"], []
    rng = np.random.default_rng(0)
    for case in cases:
        x = rng.standard_normal(case["shape"], dtype=np.float32)
        if case["channels_last"]:
            continue
        made = ort_case(case, x)
        if made is None:
            continue
        x = x.astype(NUMPY_DTYPE[case.get("dtype", "float32")])
        try:
            ort_run = session(made[0], made[1], threads)
        except Exception as e:  # an op this build of ORT lacks (BN training mode, ...)
            notes.append(f"{name}: {case['title']} {case['label']} not supported: {str(e).splitlines()[0][:160]}")
            continue
        (ours, theirs), ratios = time_pair([normkit_call(case, x), ort_run], budget_s, case.get("in_cache", True))
        bytes_moved = 2 * x.nbytes
        rows.append({"op": case["title"], "shape": case["label"], "threads": threads, "timings": [
            {"impl": "normkit (Python)", "median_ms": ours * 1e3, "gbps": bytes_moved / ours / 1e9,
             "normkit_speedup": 1.0},
            {"impl": name, "median_ms": theirs * 1e3, "gbps": bytes_moved / theirs / 1e9,
             "normkit_speedup": theirs / ours, "ratios": ratios[0]}]})
    json.dump({"simd_path": normkit.simd_path(), "copy_gbps": {}, "notes": notes, "rows": rows},
              open(out_path, "w"), indent=2)


if __name__ == "__main__":
    main()
