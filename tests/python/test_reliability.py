"""Regression tests for what a hostile user found (issue 17): crashes, data
loss, a hang after fork, late or unclear errors. A crash or a hang would end
the test process, so those cases run in a child process and the test reads
its exit status."""

import os
import stat
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import normkit
import normkit.io as io
from helpers import random


def run_child(code, timeout=120):
    """Runs `code` in a fresh interpreter with this one's environment; returns
    (exit status, output). A crash is a negative status, a hang a timeout."""
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              timeout=timeout, env=os.environ.copy())
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child process hung for {timeout} s")
    return done.returncode, done.stdout + done.stderr


def error_text(call):
    with pytest.raises(normkit.Error) as info:
        call()
    return str(info.value)


# --- 1. One module shared by threads -------------------------------------------------------------

SHARED_MODULE = """
    import sys, threading, numpy as np, normkit
    sys.setswitchinterval(1e-5)  # threads switch often: races show at once
    model = {make}
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size={shape}).astype(np.float32) for _ in range(4)]
    expected = [model(x).copy() for x in inputs]      # one thread, the same mode
    failures = []
    def work(k):
        for _ in range({calls}):
            y = model(inputs[k])
            if {check} and not np.array_equal(y, expected[k]):
                failures.append(k)
                return
            {after}
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    print("failures", len(failures))
    assert not failures
"""


@pytest.mark.parametrize("make, shape", [
    ("normkit.nn.BatchNorm2d(8).eval()", (16, 8, 16, 16)),
    ("normkit.nn.LayerNorm(256).eval()", (64, 256)),
    ("normkit.nn.GroupNorm(2, 8).eval()", (16, 8, 256)),
    ("normkit.models.make_model('mlp', 'bn').eval()", (16, 1, 28, 28)),
])
def test_eval_forward_from_four_threads_is_correct(make, shape):
    # Each thread's output equals the one-thread output of its own input:
    # eval-mode forwards do not disturb each other.
    status, out = run_child(SHARED_MODULE.format(make=make, shape=shape, calls=2000, check=True, after="pass"))
    assert status == 0, out
    assert "failures 0" in out


@pytest.mark.parametrize("make, shape, after", [
    ("normkit.nn.BatchNorm2d(8)", (16, 8, 16, 16), "model.backward(np.ones_like(y))"),
    ("normkit.nn.GroupNorm(2, 8)", (16, 8, 256), "model.backward(np.ones_like(y))"),
    ("normkit.models.make_model('mlp', 'bn')", (16, 1, 28, 28), "model.backward(np.ones((16, 10), np.float32))"),
])
def test_training_calls_from_four_threads_are_serialized(make, shape, after):
    # Training forwards and backwards on one module from four threads: no
    # crash, and the module counts every forward (none was lost to a race).
    code = SHARED_MODULE.format(make=make, shape=shape, calls=2000, check=False, after=after)
    code += "\n    print('tracked', model.num_batches_tracked if hasattr(model, 'running_mean') else 'n/a')\n"
    status, out = run_child(code)
    assert status == 0, out
    if "BatchNorm2d" in make:
        assert "tracked " + str(4 + 4 * 2000) in out  # 4 forwards before the threads, 8000 in them


def test_mode_changes_beside_forwards_are_safe():
    status, out = run_child("""
        import sys, threading, numpy as np, normkit
        sys.setswitchinterval(1e-5)
        bn = normkit.nn.BatchNorm2d(4)
        x = np.random.default_rng(0).normal(size=(16, 4, 16, 16)).astype(np.float32)
        stop = []
        def flip():
            while not stop:
                bn.train(); bn.eval(); bn.state_dict(); bn.zero_grad()
                bn.load_state_dict(bn.state_dict())
        flipper = threading.Thread(target=flip); flipper.start()
        for _ in range(2000):
            y = bn(x)
            bn.backward(y)
        stop.append(1); flipper.join()
        print("ok")
    """)
    assert status == 0 and "ok" in out, out


# --- 2 and 7. Recalibration ----------------------------------------------------------------------

def test_recalibrate_refuses_none_layers_and_data_pass():
    status, out = run_child("""
        import normkit
        bn = normkit.nn.BatchNorm2d(3)
        for layers, data_pass in [([None], lambda: None), ([bn, None], lambda: None), ([bn], None)]:
            try:
                normkit.nn.recalibrate_running_stats(layers, data_pass)
            except normkit.Error as e:
                print("refused:", e)
        print("tracked", bn.num_batches_tracked, bn.training)
    """)
    assert status == 0, out
    assert "refused: recalibrate_running_stats: layers[0]: expected a BatchNorm layer, got None" in out
    assert "refused: recalibrate_running_stats: layers[1]: expected a BatchNorm layer, got None" in out
    assert "refused: recalibrate_running_stats: data_pass: expected a callable, got NoneType" in out
    assert "tracked 0 True" in out


def trained_bn(rng):
    bn = normkit.nn.BatchNorm2d(3, momentum=0.5)
    for _ in range(3):
        bn(random((4, 3, 2, 2), rng, loc=5.0))
    return bn.eval()


def test_recalibrate_undoes_everything_when_the_pass_raises():
    rng = np.random.default_rng(0)
    bn = trained_bn(rng)
    before = {k: v.copy() for k, v in bn.state_dict().items()}

    def failing_pass():
        bn(random((4, 3, 2, 2), rng))
        raise RuntimeError("the data loader broke")

    with pytest.raises(RuntimeError, match="the data loader broke"):
        normkit.nn.recalibrate_running_stats([bn], failing_pass)
    assert not bn.training
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    # momentum is 0.5 again, not the cumulative average: one training step on
    # a constant 10 moves the mean halfway from where it was.
    mean = bn.running_mean.copy()
    bn.train()(np.full((4, 3, 2, 2), 10.0, np.float32))
    np.testing.assert_allclose(bn.running_mean, 0.5 * mean + 5.0, rtol=1e-6)


def test_recalibrate_with_a_layer_listed_twice_restores_its_momentum():
    rng = np.random.default_rng(1)
    bn = trained_bn(rng)
    normkit.nn.recalibrate_running_stats([bn, bn], lambda: bn(np.full((4, 3, 2, 2), 2.0, np.float32)))
    np.testing.assert_allclose(bn.running_mean, 2.0, rtol=1e-6)
    assert bn.num_batches_tracked == 1 and not bn.training
    bn.train()(np.full((4, 3, 2, 2), 10.0, np.float32))
    np.testing.assert_allclose(bn.running_mean, 6.0, rtol=1e-6)  # momentum 0.5, not None


# --- 4, 5, 6. Files -----------------------------------------------------------------------------

STATE = {"w": np.arange(6, dtype=np.float32)}


def test_save_refuses_anything_but_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file (a FIFO)" in error_text(lambda: io.save_file(STATE, str(fifo)))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert "not a regular file (a directory)" in error_text(lambda: io.save_file(STATE, str(tmp_path)))
    assert "not a regular file (a device)" in error_text(lambda: io.save_file(STATE, "/dev/null"))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["fifo"]  # no temporary left behind


def test_save_writes_through_a_symlink_and_keeps_the_mode(tmp_path):
    target = tmp_path / "real.safetensors"
    io.save_file({"old": np.zeros(1, np.float32)}, str(target))
    os.chmod(target, 0o600)
    link = tmp_path / "link.safetensors"
    os.symlink("real.safetensors", link)  # relative, as ln -s makes them
    io.save_file(STATE, str(link))
    assert os.path.islink(link)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    np.testing.assert_array_equal(io.load_file(str(target))["w"], STATE["w"])
    dangling = tmp_path / "dangling"
    os.symlink("made-by-save", dangling)
    io.save_file(STATE, str(dangling))
    assert os.path.islink(dangling) and (tmp_path / "made-by-save").is_file()


@pytest.mark.parametrize("umask", [0o027, 0o002])
def test_new_files_take_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        io.save_file(STATE, str(tmp_path / "new"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o666 & ~umask


def test_saves_of_one_path_from_threads_all_succeed(tmp_path):
    path = str(tmp_path / "shared.safetensors")
    errors = []

    def save(k):
        for i in range(20):
            try:
                io.save_file({"v": np.full(1000, k * 100 + i, np.float32)}, path)
                v = io.load_file(path)["v"]  # always a whole file: one value throughout
                assert np.all(v == v[0])
            except Exception as e:  # noqa: BLE001 - every failure counts
                errors.append(repr(e))

    threads = [threading.Thread(target=save, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(tmp_path) == ["shared.safetensors"]


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 64), (0,), (3, 0, 2)])
@pytest.mark.parametrize("beside", [0, 4])
def test_zero_size_tensors_round_trip(tmp_path, shape, beside):
    path = str(tmp_path / "empty.safetensors")
    state = {"e": np.zeros(shape, np.float32), "d": np.arange(beside, dtype=np.float32)}
    io.save_file(state, path)
    loaded = io.load_file(path)
    assert loaded["e"].shape == shape
    np.testing.assert_array_equal(loaded["d"], state["d"])


def test_paths_with_nul_are_refused(tmp_path):
    assert "path: contains a NUL byte" in error_text(lambda: io.save_file(STATE, str(tmp_path / "a\0b")))
    assert "path: contains a NUL byte" in error_text(lambda: io.load_file(str(tmp_path / "a\0b")))
    assert os.listdir(tmp_path) == []


def test_reading_a_fifo_or_a_directory_names_what_it_is(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file (a FIFO)" in error_text(lambda: io.load_file(str(fifo)))
    assert "not a regular file (a directory)" in error_text(lambda: io.load_file(str(tmp_path)))
    assert "no such file" in error_text(lambda: io.load_file(str(tmp_path / "none")))


# --- 8. fork ------------------------------------------------------------------------------------

def test_a_forked_child_works_after_threaded_calls():
    status, out = run_child("""
        import multiprocessing as mp, numpy as np, normkit
        normkit.set_num_threads(2)
        x = np.random.default_rng(0).normal(size=(64, 64, 32, 32)).astype(np.float32)
        y = normkit.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)[0]  # two threads
        def child(queue):
            yc = normkit.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)[0]
            try:
                normkit.set_num_threads(2)  # would hang in libgomp: refused
                refused = "no"
            except normkit.Error as e:
                refused = str(e)
            queue.put((normkit.num_threads(), bool(np.array_equal(yc, y)), refused))
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        p = ctx.Process(target=child, args=(queue,)); p.start()
        print("child", queue.get(timeout=60)); p.join(60)
        print("exit", p.exitcode)
    """, timeout=90)
    assert status == 0, out
    assert 'child (1, True, "set_num_threads: n: a process made by fork() runs on 1 thread' in out, out
    assert "exit 0" in out, out


# --- 9 and 11. Errors found late or unclearly, loose checks -------------------------------------

def test_an_invalid_utf8_header_gives_a_message(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes((7).to_bytes(8, "little") + b'{"\xff":1}')
    message = error_text(lambda: io.load_file(str(path)))
    assert "header is not valid JSON" in message and "\\xff" in message


def test_group_norm_checks_num_groups_before_allocating():
    x = random((4, 4, 2, 2), np.random.default_rng(0))
    assert "divisible by num_groups" in error_text(lambda: normkit.group_norm_forward(x, None, None, 2**40, 1e-5))


def test_batch_renorm_limits_are_checked_at_construction():
    assert "renorm: rmax: expected a finite number >= 1, got 0.5" in error_text(
        lambda: normkit.nn.BatchRenorm2d(3, rmax=0.5))
    assert "renorm: dmax: expected a finite number >= 0" in error_text(
        lambda: normkit.nn.BatchRenorm2d(3, dmax=-1.0))


def test_normalized_shape_arguments():
    assert "normalized_shape: 9223372036854775808 does not fit in 64 bits" in error_text(
        lambda: normkit.nn.LayerNorm(2**63))
    assert "LayerNorm: normalized_shape: expected sizes > 0, got (-2,)" in error_text(lambda: normkit.nn.LayerNorm(-2))
    assert "RMSNorm: normalized_shape: expected sizes > 0" in error_text(lambda: normkit.nn.RMSNorm([4, 0]))
    assert "normalized_shape: expected an int or a sequence of ints, got bool" in error_text(
        lambda: normkit.nn.LayerNorm(True))
    assert "normalized_shape: 33 dimensions, expected at most 32" in error_text(
        lambda: normkit.nn.LayerNorm([1] * 33))
    # NumPy integers are sizes, as for torch.nn.LayerNorm.
    assert normkit.nn.LayerNorm(np.int64(4)).weight.shape == (4,)
    assert normkit.nn.LayerNorm([np.int32(2), 3]).weight.shape == (2, 3)
    x = random((2, 4), np.random.default_rng(0))
    assert normkit.layer_norm_forward(x, np.int64(4), None, None, 1e-5)[0].shape == (2, 4)


def test_a_negative_num_batches_tracked_is_refused():
    bn = normkit.nn.BatchNorm2d(3, momentum=None)
    state = bn.state_dict()
    state["num_batches_tracked"] = np.array(-1)
    assert "'num_batches_tracked': expected a count >= 0, got -1" in error_text(lambda: bn.load_state_dict(state))
    assert bn.num_batches_tracked == 0


def test_running_statistics_updated_in_place_must_not_share_memory():
    x = random((4, 4, 2, 2), np.random.default_rng(0))
    same = np.zeros(4, np.float32)
    assert "running_var: shares memory with running_mean" in error_text(
        lambda: normkit.batch_norm_forward(x, None, None, same, same, True, 0.1, 1e-5))
    both = np.zeros(8, np.float32)
    assert "shares memory" in error_text(
        lambda: normkit.batch_norm_forward(x, None, None, both[0::2], both[1::2], True, 0.1, 1e-5))
    stride0 = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (4,), (0,), writeable=True)
    assert "running_mean: expected memory of its own for each element" in error_text(
        lambda: normkit.batch_norm_forward(x, None, None, stride0, np.ones(4, np.float32), True, 0.1, 1e-5))
    assert "shares memory" in error_text(
        lambda: normkit.instance_norm_forward(x, None, None, same, same, True, 0.1, 1e-5))
    assert np.all(same == 0) and np.all(both == 0)
    # Eval mode reads them only: one array for both is fine there.
    ones = np.ones(4, np.float32)
    normkit.batch_norm_forward(x, None, None, ones, ones, False, 0.1, 1e-5)


def test_fold_refuses_groups_that_do_not_fit():
    rng = np.random.default_rng(0)
    stats = (np.zeros(6, np.float32), np.ones(6, np.float32), None, None, 1e-5)
    conv = random((6, 2, 3, 3), rng)
    assert "groups: expected a divisor of the output channels 6, got 4" in error_text(
        lambda: normkit.fold_batch_norm(conv, None, *stats, layer="conv", groups=4))
    linear = random((6, 5), rng)
    assert "groups: a Linear layer has none: expected 1, got 2" in error_text(
        lambda: normkit.fold_batch_norm(linear, None, *stats, layer="linear", groups=2))


def test_set_num_threads_applies_to_threads_started_later():
    status, out = run_child("""
        import threading, normkit
        normkit.set_num_threads(1)
        seen = []
        t = threading.Thread(target=lambda: seen.append(normkit.num_threads())); t.start(); t.join()
        normkit.set_num_threads(2)
        t = threading.Thread(target=lambda: seen.append(normkit.num_threads())); t.start(); t.join()
        print("seen", seen)
    """)
    assert status == 0 and "seen [1, 2]" in out, out
