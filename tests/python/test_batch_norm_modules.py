"""normkit.nn.BatchNorm1d/2d/3d without PyTorch."""

import numpy as np
import pytest

import normkit
from helpers import assert_close, random


def test_running_stats_demo_numbers():
    rng = np.random.default_rng(0)
    bn = normkit.nn.BatchNorm2d(3)
    for _ in range(200):
        bn(random((32, 3, 4, 4), rng, loc=2.0, scale=3.0))
    assert np.all(np.abs(bn.running_mean - 2) < 0.1)
    assert np.all(np.abs(bn.running_var - 9) < 0.5)
    assert bn.num_batches_tracked == 200


def test_train_eval_and_chaining():
    bn = normkit.nn.BatchNorm1d(4)
    assert bn.training
    assert bn.eval() is bn and not bn.training
    assert bn.train() is bn and bn.training


def test_state_dict_keys_and_round_trip():
    rng = np.random.default_rng(1)
    a = normkit.nn.BatchNorm3d(2, momentum=None)
    for _ in range(3):
        a(random((2, 2, 3, 3, 3), rng))
    state = a.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var",
                           "num_batches_tracked"]
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"] == 3
    b = normkit.nn.BatchNorm3d(2)
    b.load_state_dict(state)
    assert_close(b.running_var, a.running_var)
    assert b.num_batches_tracked == 3
    with pytest.raises(ValueError, match="missing key 'bias'"):
        b.load_state_dict({k: v for k, v in state.items() if k != "bias"})
    assert list(normkit.nn.BatchNorm2d(2, affine=False).state_dict()) == [
        "running_mean", "running_var", "num_batches_tracked"]


def test_parameters_are_live_views_and_grads_accumulate():
    rng = np.random.default_rng(2)
    bn = normkit.nn.BatchNorm2d(3)
    bn.weight[:] = [1.0, 2.0, 3.0]
    x = random((4, 3, 2, 2), rng)
    dy = random((4, 3, 2, 2), rng)
    bn(x)
    bn.backward(dy)
    g = bn.weight_grad.copy()
    bn.backward(dy)
    assert_close(bn.weight_grad, 2 * g)
    bn.zero_grad()
    assert np.all(bn.weight_grad == 0)


def test_fused_scale_shift_equals_eval_forward():
    rng = np.random.default_rng(3)
    bn = normkit.nn.BatchNorm2d(3)
    for _ in range(5):
        bn(random((4, 3, 2, 2), rng, loc=1.0, scale=2.0))
    bn.eval()
    x = random((2, 3, 2, 2), rng)
    scale, shift = bn.fused_scale_shift()
    assert_close(x * scale[None, :, None, None] + shift[None, :, None, None], bn(x))


def test_rank_errors_name_the_module():
    with pytest.raises(ValueError, match=r"BatchNorm2d: input: expected 4-D input \(got 3-D"):
        normkit.nn.BatchNorm2d(3)(np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="input: expected a float32 array, got float16"):
        normkit.nn.BatchNorm1d(3)(np.ones((2, 3), np.float32).astype(np.float16))


def test_threads_setting():
    before = normkit.num_threads()
    normkit.set_num_threads(1)
    assert normkit.num_threads() == 1
    normkit.set_num_threads(before)
    with pytest.raises(ValueError, match="n: expected >= 1"):
        normkit.set_num_threads(0)
