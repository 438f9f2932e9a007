"""OMP_NUM_THREADS=1 and 2 give identical bits (DESIGN.md section 2), checked
across separate processes: forward, running statistics and backward, for
contiguous and channels-last input."""

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
print(normkit.num_threads(), digest.hexdigest())
"""


def run_with_threads(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[0] == str(threads)
    return out[1]


def test_one_and_two_threads_give_the_same_bits():
    assert run_with_threads(1) == run_with_threads(2)
