"""normkit: normalization layers for deep learning.

The functional API mirrors ATen's native ops (names, argument order and
return tuples); see docs/semantics.md. Arrays are float32 NumPy arrays of any
strides; contiguous and channels-last arrays are used without a copy.
"""

from ._normkit import (
    Error,
    __version__,
    batch_norm_backward,
    batch_norm_forward,
    num_threads,
    set_num_threads,
)
from . import nn

__all__ = [
    "Error",
    "__version__",
    "batch_norm_backward",
    "batch_norm_forward",
    "nn",
    "num_threads",
    "set_num_threads",
]
