"""normkit: normalization layers for deep learning.

The functional API mirrors ATen's native ops (names, argument order and
return tuples); see docs/semantics.md. Arrays are float32, float16 or
(ml_dtypes') bfloat16 NumPy arrays of any strides; contiguous and
channels-last arrays are used without a copy.
"""

from ._normkit import (
    Error,
    __version__,
    adain_backward,
    adain_forward,
    add_layer_norm_backward,
    add_layer_norm_forward,
    add_rms_norm_backward,
    add_rms_norm_forward,
    batch_norm_backward,
    batch_norm_forward,
    fold_batch_norm,
    group_norm_backward,
    group_norm_forward,
    instance_norm_backward,
    instance_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
    layer_norm_quant_forward,
    num_threads,
    rms_norm_backward,
    rms_norm_forward,
    rms_norm_quant_forward,
    set_num_threads,
    set_simd_path,
    simd_path,
    simd_paths,
)
from . import io, models, nn

__all__ = [
    "Error",
    "__version__",
    "adain_backward",
    "adain_forward",
    "add_layer_norm_backward",
    "add_layer_norm_forward",
    "add_rms_norm_backward",
    "add_rms_norm_forward",
    "batch_norm_backward",
    "batch_norm_forward",
    "fold_batch_norm",
    "group_norm_backward",
    "group_norm_forward",
    "instance_norm_backward",
    "instance_norm_forward",
    "io",
    "layer_norm_backward",
    "layer_norm_forward",
    "layer_norm_quant_forward",
    "models",
    "nn",
    "num_threads",
    "rms_norm_backward",
    "rms_norm_forward",
    "rms_norm_quant_forward",
    "set_num_threads",
    "set_simd_path",
    "simd_path",
    "simd_paths",
]
