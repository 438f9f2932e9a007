"""Every thread count and every SIMD path the CPU has give identical bits
(DESIGN.md section 2): BatchNorm forward, running statistics and backward for
contiguous and channels-last input, and the family's forward and backward.
Paths and thread counts are changed in one process (set_simd_path,
set_num_threads), and once from the environment of a fresh process
(NORMKIT_ISA, OMP_NUM_THREADS)."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import normkit


def outputs_digest():
    """SHA-256 of every output of a fixed set of calls."""
    rng = np.random.default_rng(42)
    digest = hashlib.sha256()
    # (4, 272, 5, 5) channels-last: 256 channels read at once, and 16 after.
    for shape, channels_last in [((32, 16, 28, 28), False), ((32, 16, 28, 28), True), ((8, 80, 7, 7), True),
                                 ((4, 272, 5, 5), True), ((256, 1024), False), ((7, 33, 13), False)]:
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
    outputs = []
    # 300 rows: several blocks of 64; 48 rows of 1027: one block, which two
    # threads split by columns.
    for shape in [(300, 771), (48, 1027)]:
        cols = shape[1]
        rows = rng.normal(1.0, 2.0, size=shape).astype(np.float32)
        drows = rng.normal(size=rows.shape).astype(np.float32)
        g, b = rng.normal(size=cols).astype(np.float32), rng.normal(size=cols).astype(np.float32)
        y, mean, rstd = normkit.layer_norm_forward(rows, [cols], g, b, 1e-5)
        outputs += [y, mean, rstd, *normkit.layer_norm_backward(drows, rows, [cols], mean, rstd, g, b)]
        y, rstd = normkit.rms_norm_forward(rows, [cols], g, 1e-6)
        outputs += [y, rstd, *normkit.rms_norm_backward(drows, rows, [cols], rstd, g)]
    images = rng.normal(size=(4, 32, 13, 11)).astype(np.float32)
    dimages = rng.normal(size=images.shape).astype(np.float32)
    cw, cb = rng.normal(size=32).astype(np.float32), rng.normal(size=32).astype(np.float32)
    y, mean, rstd = normkit.group_norm_forward(images, cw, cb, 8, 1e-5)
    outputs += [y, mean, rstd, *normkit.group_norm_backward(dimages, images, mean, rstd, cw, 8)]
    for a in outputs:
        if a is not None:
            digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


@pytest.fixture
def restore_threads_and_path():
    threads, path = normkit.num_threads(), normkit.simd_path()
    yield
    normkit.set_num_threads(threads)
    normkit.set_simd_path(path)


def test_one_and_two_threads_give_the_same_bits(restore_threads_and_path):
    digests = set()
    for threads in (1, 2, 3):
        normkit.set_num_threads(threads)
        digests.add(outputs_digest())
    assert len(digests) == 1


def test_every_simd_path_gives_the_same_bits(restore_threads_and_path):
    paths = normkit.simd_paths()
    assert paths[0] == "portable"  # every CPU has the portable path
    digests = {}
    for path in paths:
        normkit.set_simd_path(path)
        assert normkit.simd_path() == path
        digests[path] = outputs_digest()
    assert len(set(digests.values())) == 1, digests


def test_a_path_the_cpu_lacks_is_refused(restore_threads_and_path):
    before = normkit.simd_path()
    with pytest.raises(normkit.Error, match="set_simd_path: name: expected portable, avx2 or avx512, got 'sse9'"):
        normkit.set_simd_path("sse9")
    for path in ("avx2", "avx512"):
        if path not in normkit.simd_paths():
            with pytest.raises(normkit.Error, match="this CPU has no " + path):
                normkit.set_simd_path(path)
    assert normkit.simd_path() == before


def test_the_environment_picks_threads_and_path_in_a_fresh_process():
    here = os.path.dirname(os.path.abspath(__file__))
    script = ("import sys; sys.path.insert(0, %r)\n"
              "import normkit, test_thread_count_bits as t\n"
              "print(normkit.num_threads(), normkit.simd_path(), t.outputs_digest())" % here)
    env = dict(os.environ, OMP_NUM_THREADS="1", NORMKIT_ISA="portable")
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[:2] == ["1", "portable"]
    assert out[2] == outputs_digest()
