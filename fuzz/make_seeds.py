#!/usr/bin/python3
"""Writes the fuzzers' seed corpora into fuzz/corpus/<harness>/ (committed;
rerun only to change them): small valid safetensors and IDX files laid out by
the formats' rules, and a few byte strings for the functional API harness."""
import json
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


write("safetensors", "batch_norm_state", safetensors([
    ("weight", "F32", [3], f32([1, 1, 1])), ("bias", "F32", [3], f32([0, 0, 0])),
    ("running_mean", "F32", [3], f32([0.5, -1, 2])), ("running_var", "F32", [3], f32([1, 2, 3])),
    ("num_batches_tracked", "I64", [], struct.pack("<q", 7))], {"format": "pt"}))
write("safetensors", "empty", safetensors([]))
write("safetensors", "matrix_and_empty_tensor", safetensors([
    ("w", "F32", [2, 3], f32(range(6))), ("e", "F32", [0, 4], b""), ("i", "I64", [2], struct.pack("<2q", -1, 1 << 40))]))
write("safetensors", "unsupported_dtype", safetensors([("h", "F16", [2], b"\0\0\0\0")]))

def idx(dims, values):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values)

write("idx", "labels", idx([10], [i % 10 for i in range(10)]))
write("idx", "images", idx([2, 4, 4], range(32)))
write("idx", "empty", idx([0, 28, 28], []))
write("idx", "wrong_type", bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + f32([1]))

rng = random.Random(2026)
for k in range(24):
    write("functional", "random_%02d" % k, bytes(rng.randrange(256) for _ in range(rng.choice([16, 48, 96]))))

# The checkpoint, module and listed harnesses read their input as choices
# (which entry to edit, which module, which calls; the listed one which case of
# tests/cases/ops.txt and how to redraw its arguments): short random strings
# cover them.
for harness in ("checkpoint", "module", "listed"):
    for k in range(16):
        write(harness, "random_%02d" % k, bytes(rng.randrange(256) for _ in range(rng.choice([8, 32, 96]))))
