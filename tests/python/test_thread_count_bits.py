"""OMP_NUM_THREADS=1 and 2, and every SIMD path the CPU has (NORMKIT_ISA),
give identical bits (DESIGN.md section 2), checked across separate
processes: BatchNorm forward, running statistics and backward for contiguous
and channels-last input, and the family's forward and backward."""

import os
import subprocess
import sys

SCRIPT = r"""
import hashlib
import numpy as np
import normkit

rng = np.random.default_rng(42)
digest = hashlib.sha256()
for shape, channels_last in [((32, 16, 28, 28), False), ((32, 16, 28, 28), True),
                             ((256, 1024), False), ((7, 33, 13), False)]:
    x = rng.normal(3.0, 2.0, size=shape).astype(np.float32)
    if channels_last:
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    C = shape[1]
    w, b = rng.normal(size=C).astype(np.float32), rng.normal(size=C).astype(np.float32)
    rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
    y, mean, invstd = normkit.batch_norm_forward(x, w, b, rm, rv, True, 0.1, 1e-5)
    dy = rng.normal(size=shape).astype(np.float32)
    dx, dw, db = normkit.batch_norm_backward(dy, x, w, rm, rv, mean, invstd, True, 1e-5)
    for a in (y, mean, invstd, rm, rv, dx, dw, db):
        digest.update(np.ascontiguousarray(a).tobytes())
rows = rng.normal(1.0, 2.0, size=(300, 771)).astype(np.float32)
drows = rng.normal(size=rows.shape).astype(np.float32)
g, b = rng.normal(size=771).astype(np.float32), rng.normal(size=771).astype(np.float32)
y, mean, rstd = normkit.layer_norm_forward(rows, [771], g, b, 1e-5)
outputs = [y, mean, rstd, *normkit.layer_norm_backward(drows, rows, [771], mean, rstd, g, b)]
y, rstd = normkit.rms_norm_forward(rows, [771], g, 1e-6)
outputs += [y, rstd, *normkit.rms_norm_backward(drows, rows, [771], rstd, g)]
images = rng.normal(size=(4, 32, 13, 11)).astype(np.float32)
dimages = rng.normal(size=images.shape).astype(np.float32)
cw, cb = rng.normal(size=32).astype(np.float32), rng.normal(size=32).astype(np.float32)
y, mean, rstd = normkit.group_norm_forward(images, cw, cb, 8, 1e-5)
outputs += [y, mean, rstd, *normkit.group_norm_backward(dimages, images, mean, rstd, cw, 8)]
for a in outputs:
    if a is not None:
        digest.update(np.ascontiguousarray(a).tobytes())
print(normkit.num_threads(), normkit.simd_path(), digest.hexdigest())
"""


def run(threads, isa=None):
    """(simd path that ran, digest of every output)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("NORMKIT_ISA", None)
    if isa is not None:
        env["NORMKIT_ISA"] = isa
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[0] == str(threads)
    return out[1], out[2]


def test_one_and_two_threads_give_the_same_bits():
    assert run(1)[1] == run(2)[1]


def test_every_simd_path_gives_the_same_bits():
    best, digest = run(2)
    paths = {best: digest}
    for isa in ("portable", "avx2", "avx512"):
        ran, d = run(2, isa)
        paths[ran] = d
    assert "portable" in paths  # every x86-64 CPU has the portable path
    assert len(set(paths.values())) == 1, paths
