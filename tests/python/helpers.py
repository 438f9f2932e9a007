"""Shared helpers for the Python tests."""

import numpy as np


def channels_last(shape, rng, loc=0.0, scale=1.0):
    """A float32 array of logical shape (N, C, *spatial) stored as (N, *spatial, C)."""
    n, c, *spatial = shape
    stored = rng.normal(loc, scale, size=(n, *spatial, c)).astype(np.float32)
    order = (0, stored.ndim - 1, *range(1, stored.ndim - 1))
    return stored.transpose(order)


def random(shape, rng, loc=0.0, scale=1.0):
    return rng.normal(loc, scale, size=shape).astype(np.float32)


def assert_close(actual, expected, rtol=1e-5, term_scale=0.0):
    """|a - b| <= rtol * (|b| + max(max|b|, term_scale)), as the C++ tests."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.size == 0:
        return
    scale = max(float(np.max(np.abs(expected))), term_scale)
    err = np.abs(actual - expected)
    allowed = rtol * (np.abs(expected) + scale)
    worst = np.argmax(err - allowed)
    assert np.all(err <= allowed), (
        f"max excess at {np.unravel_index(worst, err.shape)}: "
        f"{actual.flat[worst]} vs {expected.flat[worst]}"
    )
