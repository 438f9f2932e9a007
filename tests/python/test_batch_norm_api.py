"""The functional API of DESIGN.md section 4, without PyTorch: exact names and
argument order, return tuples, layouts, errors."""

import re

import numpy as np
import pytest

import normkit
from helpers import assert_close, channels_last, random

DESIGN_SIGNATURES = {  # DESIGN.md section 4, to the letter
    "batch_norm_forward": ["x", "weight", "bias", "running_mean", "running_var",
                           "training", "momentum", "eps"],
    "batch_norm_backward": ["dy", "x", "weight", "running_mean", "running_var",
                            "save_mean", "save_invstd", "training", "eps"],
    "layer_norm_forward": ["x", "normalized_shape", "weight", "bias", "eps"],
    "layer_norm_backward": ["dy", "x", "normalized_shape", "mean", "rstd", "weight", "bias"],
    "rms_norm_forward": ["x", "normalized_shape", "weight", "eps"],
    "rms_norm_backward": ["dy", "x", "normalized_shape", "rstd", "weight"],
    "group_norm_forward": ["x", "weight", "bias", "num_groups", "eps"],
    "group_norm_backward": ["dy", "x", "mean", "rstd", "weight", "num_groups"],
    "instance_norm_forward": ["x", "weight", "bias", "running_mean", "running_var",
                              "use_input_stats", "momentum", "eps"],
    "instance_norm_backward": ["dy", "x", "weight", "mean", "rstd"],
    # The second wave's.
    "add_rms_norm_forward": ["x", "residual", "normalized_shape", "weight", "eps"],
    "add_rms_norm_backward": ["dy", "dresidual_out", "residual_out", "normalized_shape", "rstd", "weight"],
    "add_layer_norm_forward": ["x", "residual", "normalized_shape", "weight", "bias", "eps"],
    "add_layer_norm_backward": ["dy", "dresidual_out", "residual_out", "normalized_shape", "mean", "rstd",
                                "weight", "bias"],
}
# Keyword arguments with defaults that follow them (DESIGN.md: "may follow").
DESIGN_KEYWORDS = {name: ["weight_offset=0.0"] for name in
                   ["rms_norm_forward", "rms_norm_backward", "add_rms_norm_forward", "add_rms_norm_backward"]}


def signature(name):
    first_line = getattr(normkit, name).__doc__.splitlines()[0]
    return [a.strip() for a in re.match(rf"{name}\((.*)\) ->", first_line).group(1).split(",")]


@pytest.mark.parametrize("name", sorted(DESIGN_SIGNATURES))
def test_signature_matches_design(name):
    args = signature(name)
    assert [a.split(":")[0].strip() for a in args if "=" not in a] == DESIGN_SIGNATURES[name]
    keywords = [a.split(":")[0].strip() + "=" + a.split("=")[1].strip() for a in args if "=" in a]
    assert keywords == DESIGN_KEYWORDS.get(name, [])


def test_keyword_call_and_return_tuple():
    rng = np.random.default_rng(0)
    x = random((4, 3, 5), rng)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    y, mean, invstd = normkit.batch_norm_forward(
        x=x, weight=None, bias=None, running_mean=rm, running_var=rv,
        training=True, momentum=0.1, eps=1e-5)
    assert y.shape == x.shape and y.dtype == np.float32
    assert_close(mean, x.mean(axis=(0, 2)))
    assert_close(invstd, 1 / np.sqrt(x.var(axis=(0, 2)) + 1e-5))
    # running stats updated in place, with the unbiased variance
    assert_close(rm, 0.1 * x.mean(axis=(0, 2)))
    assert_close(rv, 0.9 + 0.1 * x.var(axis=(0, 2), ddof=1))
    dx, dw, db = normkit.batch_norm_backward(
        dy=y, x=x, weight=None, running_mean=rm, running_var=rv,
        save_mean=mean, save_invstd=invstd, training=True, eps=1e-5)
    assert dx.shape == x.shape and dw is None and db.shape == (3,)


def test_eval_mode_returns_empty_saved_stats():
    x = random((2, 3), np.random.default_rng(1))
    y, mean, invstd = normkit.batch_norm_forward(
        x, None, None, np.zeros(3, np.float32), np.ones(3, np.float32), False, 0.1, 1e-5)
    assert mean.shape == (0,) and invstd.shape == (0,)
    assert_close(y, x / np.sqrt(1 + 1e-5))


def test_channels_last_in_channels_last_out():
    rng = np.random.default_rng(2)
    x = channels_last((4, 6, 5, 3), rng)
    assert not x.flags.c_contiguous
    y, _, _ = normkit.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)
    assert y.strides == x.strides
    y_ref, _, _ = normkit.batch_norm_forward(np.ascontiguousarray(x), None, None, None,
                                             None, True, 0.1, 1e-5)
    assert_close(y, y_ref)


def test_any_strides_give_the_same_numbers():
    rng = np.random.default_rng(3)
    base = random((3, 8, 10), rng)
    x = base[:, ::2, ::-1]  # every other channel, reversed spatial axis
    w = random((8,), rng)[::2]
    y, mean, _ = normkit.batch_norm_forward(x, w, None, None, None, True, 0.1, 1e-5)
    y_ref, mean_ref, _ = normkit.batch_norm_forward(np.ascontiguousarray(x),
                                                    np.ascontiguousarray(w), None, None,
                                                    None, True, 0.1, 1e-5)
    assert_close(y, y_ref)
    assert_close(mean, mean_ref)


def test_empty_batch():
    x = np.zeros((0, 3, 4), np.float32)
    rm, rv = np.full(3, 0.5, np.float32), np.full(3, 2.0, np.float32)
    y, _, _ = normkit.batch_norm_forward(x, None, None, rm, rv, True, 0.1, 1e-5)
    assert y.shape == (0, 3, 4)
    assert np.all(rm == 0.5) and np.all(rv == 2.0)


def test_nan_stays_in_its_channel():
    x = random((4, 3, 5), np.random.default_rng(4))
    x[1, 2, 3] = np.nan
    y, _, _ = normkit.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5)
    assert np.all(np.isnan(y[:, 2]))
    assert np.all(np.isfinite(y[:, :2]))


class TestErrors:
    x = random((4, 3, 5), np.random.default_rng(5))

    def forward(self, **overrides):
        args = dict(x=self.x, weight=None, bias=None, running_mean=None, running_var=None,
                    training=True, momentum=0.1, eps=1e-5)
        args.update(overrides)
        return normkit.batch_norm_forward(**args)

    def test_error_is_a_value_error(self):
        assert issubclass(normkit.Error, ValueError)

    def test_float64_is_refused_with_its_name(self):
        with pytest.raises(ValueError, match=r"x: expected a float32 array, got float64"):
            self.forward(x=self.x.astype(np.float64))
        with pytest.raises(ValueError, match=r"weight: expected a float32 array"):
            self.forward(weight=np.ones(3))

    def test_wrong_rank_and_lengths(self):
        with pytest.raises(ValueError, match=r"x: expected a tensor of rank >= 2"):
            self.forward(x=np.ones(5, np.float32))
        with pytest.raises(ValueError, match=r"bias: expected shape \(3,\)"):
            self.forward(bias=np.ones(4, np.float32))

    def test_single_value_per_channel(self):
        with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
            self.forward(x=np.ones((1, 3), np.float32))

    def test_eps_and_momentum(self):
        with pytest.raises(ValueError, match="eps:"):
            self.forward(eps=0.0)
        with pytest.raises(ValueError, match="momentum:"):
            self.forward(momentum=1.5)

    def test_nothing_written_on_error(self):
        rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
        with pytest.raises(ValueError, match="weight:"):
            self.forward(running_mean=rm, running_var=rv, weight=np.ones(2, np.float32))
        assert np.all(rm == 0) and np.all(rv == 1)

    def test_read_only_running_stats(self):
        rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
        rm.flags.writeable = False
        with pytest.raises(ValueError, match="running_mean: expected a writable array"):
            self.forward(running_mean=rm, running_var=rv)

    def test_backward_dy_shape(self):
        y, mean, invstd = self.forward()
        with pytest.raises(ValueError, match=r"dy: expected shape \(4, 3, 5\)"):
            normkit.batch_norm_backward(y[:, :, :4], self.x, None, None, None, mean, invstd,
                                        True, 1e-5)

    def test_not_an_array(self):
        with pytest.raises(ValueError, match="x: expected a float32 NumPy array or a CPU tensor with __dlpack__, got list"):
            self.forward(x=[[1.0, 2.0]])
