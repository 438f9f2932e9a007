"""normkit's kernels as torch.library custom operators (torch 2.4 and newer):
normkit::batch_norm, layer_norm, rms_norm, group_norm, instance_norm, adain,
add_rms_norm, add_layer_norm and their *_backward, each forward with its
backward registered for autograd and a fake (meta) implementation, so that
torch.compile and torch.export trace models that use them. normkit/torch.py
calls these where torch has them, and its autograd functions elsewhere.

A custom operator returns tensors only: an absent gradient (a weight that is
None) comes back from the *_backward ops as an empty tensor and is None to
autograd.
"""

from typing import List, Optional, Tuple

import torch

import normkit as _nk
from ._torch_common import follow_torch_threads as _follow_torch_threads
from ._torch_common import as_needed as _as_needed

Tensor = torch.Tensor


def _like(x):
    """An empty tensor of x's shape and dtype in the memory format normkit
    gives the channel norms' outputs: channels-last when x is channels-last
    and not contiguous, else contiguous."""
    if not x.is_contiguous():
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return torch.empty_like(x, memory_format=torch.channels_last)
        if x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d):
            return torch.empty_like(x, memory_format=torch.channels_last_3d)
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _contiguous_like(x, dtype=None):
    return torch.empty(x.shape, dtype=dtype or x.dtype, device=x.device)


def _stats(x, shape):
    return x.new_empty(shape, dtype=torch.float32)


def _row_stats_shape(x, normalized_shape):
    k = len(normalized_shape)
    return tuple(x.shape[:x.dim() - k]) + (1,) * k


def _first_derivative_only(op):
    """Raises where a backward would be differentiated again (grad mode on in
    backward: create_graph=True): normkit's backward kernels have no
    derivative of their own."""
    if torch.is_grad_enabled() and not torch.compiler.is_compiling():
        raise RuntimeError(f"normkit.torch: {op}'s backward is normkit's kernel and has no derivative of its own: "
                           "a second derivative (create_graph=True) is not supported; use torch's own layer for it")


def _none_empty(t, like):
    """A custom op's stand-in for None: an empty tensor."""
    return t if t is not None else like.new_empty(0)


def _copies(running_mean, running_var):
    """The running statistics' copies an operator updates and returns (it may
    not mutate its inputs); None where there are none."""
    return tuple(t.clone() if t is not None else None for t in (running_mean, running_var))


def _fake_copies(x, running_mean, running_var):
    return tuple(torch.empty_like(t) if t is not None else x.new_empty(0) for t in (running_mean, running_var))


def _empty_none(t):
    return None if t is not None and t.numel() == 0 and t.dim() == 1 else t


# ---- BatchNorm -----------------------------------------------------------------------

# An operator with autograd may not mutate its inputs: the running
# statistics come back as new tensors (updated copies), which the caller
# copies into its buffers (batch_norm_updating below); without them, empty.
@torch.library.custom_op("normkit::batch_norm", mutates_args=())
def batch_norm(x: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], running_mean: Optional[Tensor],
               running_var: Optional[Tensor], training: bool, momentum: float,
               eps: float) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    mean_out, var_out = _copies(running_mean, running_var)
    y, save_mean, save_invstd = _nk.batch_norm_forward(x, weight, bias, mean_out, var_out, training, momentum, eps)
    return y, save_mean, save_invstd, _none_empty(mean_out, x), _none_empty(var_out, x)


@batch_norm.register_fake
def _(x, weight, bias, running_mean, running_var, training, momentum, eps):
    channels = x.shape[1] if training else 0  # eval: empty saved statistics, as ATen
    return (_like(x), _stats(x, (channels,)), _stats(x, (channels,))) + _fake_copies(x, running_mean, running_var)


def batch_norm_updating(x, weight, bias, running_mean, running_var, training, momentum, eps):
    """y of normkit::batch_norm, its running statistics' update copied into
    running_mean and running_var in place (as torch's batch norm updates its
    buffers)."""
    y, _, _, mean_out, var_out = batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps)
    if training and running_mean is not None:
        with torch.no_grad():
            running_mean.copy_(mean_out)
            running_var.copy_(var_out)
    return y


@torch.library.custom_op("normkit::batch_norm_backward", mutates_args=())
def batch_norm_backward(dy: Tensor, x: Tensor, weight: Optional[Tensor], running_mean: Optional[Tensor],
                        running_var: Optional[Tensor], save_mean: Tensor, save_invstd: Tensor, training: bool,
                        eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    dx, dweight, dbias = _nk.batch_norm_backward(dy, x, weight, running_mean, running_var, save_mean, save_invstd,
                                                 training, eps)
    return dx, _none_empty(dweight, x), _none_empty(dbias, x)


@batch_norm_backward.register_fake
def _(dy, x, weight, running_mean, running_var, save_mean, save_invstd, training, eps):
    channels = x.shape[1]
    dweight = x.new_empty((channels,), dtype=weight.dtype) if weight is not None else x.new_empty(0)
    dbias = x.new_empty((channels,), dtype=weight.dtype if weight is not None else torch.float32)
    return _like(x), dweight, dbias


def _batch_norm_setup(ctx, inputs, output):
    x, weight, _, running_mean, running_var, training, _, eps = inputs
    # The running statistics only where backward reads them (eval): in
    # training they are updated after this (batch_norm_updating).
    if training:
        running_mean = running_var = None
    ctx.save_for_backward(x, weight, running_mean, running_var, output[1], output[2])
    ctx.training, ctx.eps = training, eps


def _batch_norm_grad(ctx, dy, _mean, _invstd, _running_mean, _running_var):
    _first_derivative_only("BatchNorm")
    x, weight, running_mean, running_var, save_mean, save_invstd = ctx.saved_tensors
    dx, dweight, dbias = batch_norm_backward(dy, x, weight, running_mean, running_var, save_mean, save_invstd,
                                             ctx.training, ctx.eps)
    return _as_needed(ctx, dx, _empty_none(dweight), _empty_none(dbias))


batch_norm.register_autograd(_batch_norm_grad, setup_context=_batch_norm_setup)


# ---- LayerNorm and RMSNorm ---------------------------------------------------------------

@torch.library.custom_op("normkit::layer_norm", mutates_args=())
def layer_norm(x: Tensor, normalized_shape: List[int], weight: Optional[Tensor], bias: Optional[Tensor],
               eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    return tuple(_nk.layer_norm_forward(x, normalized_shape, weight, bias, eps))


@layer_norm.register_fake
def _(x, normalized_shape, weight, bias, eps):
    stats = _row_stats_shape(x, normalized_shape)
    return _contiguous_like(x), _stats(x, stats), _stats(x, stats)


@torch.library.custom_op("normkit::layer_norm_backward", mutates_args=())
def layer_norm_backward(dy: Tensor, x: Tensor, normalized_shape: List[int], mean: Tensor, rstd: Tensor,
                        weight: Optional[Tensor], bias: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    dx, dweight, dbias = _nk.layer_norm_backward(dy, x, normalized_shape, mean, rstd, weight, bias)
    return dx, _none_empty(dweight, x), _none_empty(dbias, x)


@layer_norm_backward.register_fake
def _(dy, x, normalized_shape, mean, rstd, weight, bias):
    dweight = torch.empty_like(weight) if weight is not None else x.new_empty(0)
    dbias = torch.empty_like(bias) if bias is not None else x.new_empty(0)
    return _contiguous_like(x), dweight, dbias


def _layer_norm_setup(ctx, inputs, output):
    x, normalized_shape, weight, bias, _ = inputs
    ctx.save_for_backward(x, weight, bias, output[1], output[2])
    ctx.normalized_shape = normalized_shape


def _layer_norm_grad(ctx, dy, _mean, _rstd):
    _first_derivative_only("LayerNorm")
    x, weight, bias, mean, rstd = ctx.saved_tensors
    dx, dweight, dbias = layer_norm_backward(dy, x, ctx.normalized_shape, mean, rstd, weight, bias)
    return _as_needed(ctx, dx, None, _empty_none(dweight), _empty_none(dbias))


layer_norm.register_autograd(_layer_norm_grad, setup_context=_layer_norm_setup)


@torch.library.custom_op("normkit::rms_norm", mutates_args=())
def rms_norm(x: Tensor, normalized_shape: List[int], weight: Optional[Tensor], eps: Optional[float],
             weight_offset: float) -> Tuple[Tensor, Tensor]:
    _follow_torch_threads()
    return tuple(_nk.rms_norm_forward(x, normalized_shape, weight, eps, weight_offset=weight_offset))


@rms_norm.register_fake
def _(x, normalized_shape, weight, eps, weight_offset):
    return _contiguous_like(x), _stats(x, _row_stats_shape(x, normalized_shape))


@torch.library.custom_op("normkit::rms_norm_backward", mutates_args=())
def rms_norm_backward(dy: Tensor, x: Tensor, normalized_shape: List[int], rstd: Tensor, weight: Optional[Tensor],
                      weight_offset: float) -> Tuple[Tensor, Tensor]:
    _follow_torch_threads()
    dx, dweight = _nk.rms_norm_backward(dy, x, normalized_shape, rstd, weight, weight_offset=weight_offset)
    return dx, _none_empty(dweight, x)


@rms_norm_backward.register_fake
def _(dy, x, normalized_shape, rstd, weight, weight_offset):
    return _contiguous_like(x), torch.empty_like(weight) if weight is not None else x.new_empty(0)


def _rms_norm_setup(ctx, inputs, output):
    x, normalized_shape, weight, _, weight_offset = inputs
    ctx.save_for_backward(x, weight, output[1])
    ctx.normalized_shape, ctx.weight_offset = normalized_shape, weight_offset


def _rms_norm_grad(ctx, dy, _rstd):
    _first_derivative_only("RMSNorm")
    x, weight, rstd = ctx.saved_tensors
    dx, dweight = rms_norm_backward(dy, x, ctx.normalized_shape, rstd, weight, ctx.weight_offset)
    return _as_needed(ctx, dx, None, _empty_none(dweight))


rms_norm.register_autograd(_rms_norm_grad, setup_context=_rms_norm_setup)


# ---- GroupNorm, InstanceNorm, AdaIN ---------------------------------------------------------

@torch.library.custom_op("normkit::group_norm", mutates_args=())
def group_norm(x: Tensor, num_groups: int, weight: Optional[Tensor], bias: Optional[Tensor],
               eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    return tuple(_nk.group_norm_forward(x, weight, bias, num_groups, eps))


@group_norm.register_fake
def _(x, num_groups, weight, bias, eps):
    return _like(x), _stats(x, (x.shape[0], num_groups)), _stats(x, (x.shape[0], num_groups))


@torch.library.custom_op("normkit::group_norm_backward", mutates_args=())
def group_norm_backward(dy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, weight: Optional[Tensor],
                        num_groups: int) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    dx, dweight, dbias = _nk.group_norm_backward(dy, x, mean, rstd, weight, num_groups)
    return dx, _none_empty(dweight, x), _none_empty(dbias, x)


@group_norm_backward.register_fake
def _(dy, x, mean, rstd, weight, num_groups):
    channels = x.shape[1]
    dweight = x.new_empty((channels,), dtype=weight.dtype) if weight is not None else x.new_empty(0)
    dbias = x.new_empty((channels,), dtype=weight.dtype if weight is not None else torch.float32)
    return _like(x), dweight, dbias


def _group_norm_setup(ctx, inputs, output):
    x, num_groups, weight, _, _ = inputs
    ctx.save_for_backward(x, weight, output[1], output[2])
    ctx.num_groups = num_groups


def _group_norm_grad(ctx, dy, _mean, _rstd):
    _first_derivative_only("GroupNorm")
    x, weight, mean, rstd = ctx.saved_tensors
    dx, dweight, dbias = group_norm_backward(dy, x, mean, rstd, weight, ctx.num_groups)
    return _as_needed(ctx, dx, None, _empty_none(dweight), _empty_none(dbias))


group_norm.register_autograd(_group_norm_grad, setup_context=_group_norm_setup)


@torch.library.custom_op("normkit::instance_norm", mutates_args=())
def instance_norm(x: Tensor, weight: Optional[Tensor], bias: Optional[Tensor], running_mean: Optional[Tensor],
                  running_var: Optional[Tensor], momentum: float,
                  eps: float) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    mean_out, var_out = _copies(running_mean, running_var)
    y, mean, rstd = _nk.instance_norm_forward(x, weight, bias, mean_out, var_out, True, momentum, eps)
    return y, mean, rstd, _none_empty(mean_out, x), _none_empty(var_out, x)


@instance_norm.register_fake
def _(x, weight, bias, running_mean, running_var, momentum, eps):
    return (_like(x), _stats(x, tuple(x.shape[:2])), _stats(x, tuple(x.shape[:2]))) + \
        _fake_copies(x, running_mean, running_var)


def instance_norm_updating(x, weight, bias, running_mean, running_var, momentum, eps):
    """y of normkit::instance_norm, its running statistics' update copied into
    running_mean and running_var in place."""
    y, _, _, mean_out, var_out = instance_norm(x, weight, bias, running_mean, running_var, momentum, eps)
    if running_mean is not None:
        with torch.no_grad():
            running_mean.copy_(mean_out)
            running_var.copy_(var_out)
    return y


@torch.library.custom_op("normkit::instance_norm_backward", mutates_args=())
def instance_norm_backward(dy: Tensor, x: Tensor, weight: Optional[Tensor], mean: Tensor,
                           rstd: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    dx, dweight, dbias = _nk.instance_norm_backward(dy, x, weight, mean, rstd)
    return dx, _none_empty(dweight, x), _none_empty(dbias, x)


@instance_norm_backward.register_fake
def _(dy, x, weight, mean, rstd):
    channels = x.shape[1]
    dweight = x.new_empty((channels,), dtype=weight.dtype) if weight is not None else x.new_empty(0)
    dbias = x.new_empty((channels,), dtype=weight.dtype if weight is not None else torch.float32)
    return _like(x), dweight, dbias


def _instance_norm_setup(ctx, inputs, output):
    x, weight = inputs[0], inputs[1]
    ctx.save_for_backward(x, weight, output[1], output[2])


def _instance_norm_grad(ctx, dy, _mean, _rstd, _running_mean, _running_var):
    _first_derivative_only("InstanceNorm")
    x, weight, mean, rstd = ctx.saved_tensors
    dx, dweight, dbias = instance_norm_backward(dy, x, weight, mean, rstd)
    return _as_needed(ctx, dx, _empty_none(dweight), _empty_none(dbias))


instance_norm.register_autograd(_instance_norm_grad, setup_context=_instance_norm_setup)


@torch.library.custom_op("normkit::adain", mutates_args=())
def adain(content: Tensor, style: Tensor, eps: float) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    return tuple(_nk.adain_forward(content, style, eps))


@adain.register_fake
def _(content, style, eps):
    stats = tuple(content.shape[:2])
    return (_like(content),) + tuple(_stats(content, stats) for _ in range(4))


@torch.library.custom_op("normkit::adain_backward", mutates_args=())
def adain_backward(dy: Tensor, content: Tensor, style: Tensor, content_mean: Tensor, content_rstd: Tensor,
                   style_mean: Tensor, style_rstd: Tensor, eps: float) -> Tuple[Tensor, Tensor]:
    _follow_torch_threads()
    return tuple(_nk.adain_backward(dy, content, style, content_mean, content_rstd, style_mean, style_rstd, eps))


@adain_backward.register_fake
def _(dy, content, style, content_mean, content_rstd, style_mean, style_rstd, eps):
    return _like(content), _like(style)


def _adain_setup(ctx, inputs, output):
    content, style, eps = inputs
    ctx.save_for_backward(content, style, *output[1:])
    ctx.eps = eps


def _adain_grad(ctx, dy, *_stats_grads):
    _first_derivative_only("AdaIN")
    dcontent, dstyle = adain_backward(dy, *ctx.saved_tensors, ctx.eps)
    return _as_needed(ctx, dcontent, dstyle)


adain.register_autograd(_adain_grad, setup_context=_adain_setup)


# ---- the fused residual add + norm -----------------------------------------------------------

@torch.library.custom_op("normkit::add_rms_norm", mutates_args=())
def add_rms_norm(x: Tensor, residual: Tensor, normalized_shape: List[int], weight: Optional[Tensor],
                 eps: Optional[float], weight_offset: float) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    return tuple(_nk.add_rms_norm_forward(x, residual, normalized_shape, weight, eps, weight_offset=weight_offset))


@add_rms_norm.register_fake
def _(x, residual, normalized_shape, weight, eps, weight_offset):
    return _contiguous_like(x), _contiguous_like(residual), _stats(x, _row_stats_shape(x, normalized_shape))


@torch.library.custom_op("normkit::add_rms_norm_backward", mutates_args=())
def add_rms_norm_backward(dy: Tensor, dresidual_out: Optional[Tensor], residual_out: Tensor,
                          normalized_shape: List[int], rstd: Tensor, weight: Optional[Tensor],
                          weight_offset: float) -> Tuple[Tensor, Tensor]:
    _follow_torch_threads()
    dsum, dweight = _nk.add_rms_norm_backward(dy, dresidual_out, residual_out, normalized_shape, rstd, weight,
                                              weight_offset=weight_offset)
    return dsum, _none_empty(dweight, dy)


@add_rms_norm_backward.register_fake
def _(dy, dresidual_out, residual_out, normalized_shape, rstd, weight, weight_offset):
    return _contiguous_like(dy), torch.empty_like(weight) if weight is not None else dy.new_empty(0)


def _add_rms_norm_setup(ctx, inputs, output):
    x, _, normalized_shape, weight, _, weight_offset = inputs
    ctx.save_for_backward(output[1], weight, output[2])
    ctx.normalized_shape, ctx.weight_offset, ctx.y_dtype = normalized_shape, weight_offset, x.dtype


def _add_rms_norm_grad(ctx, dy, dresidual_out, _rstd):
    _first_derivative_only("AddRMSNorm")
    residual_out, weight, rstd = ctx.saved_tensors
    if dy is None:
        dy = torch.zeros_like(residual_out, dtype=ctx.y_dtype)
    dsum, dweight = add_rms_norm_backward(dy, dresidual_out, residual_out, ctx.normalized_shape, rstd, weight,
                                          ctx.weight_offset)
    return _as_needed(ctx, dsum, dsum, None, _empty_none(dweight))


add_rms_norm.register_autograd(_add_rms_norm_grad, setup_context=_add_rms_norm_setup)


@torch.library.custom_op("normkit::add_layer_norm", mutates_args=())
def add_layer_norm(x: Tensor, residual: Tensor, normalized_shape: List[int], weight: Optional[Tensor],
                   bias: Optional[Tensor], eps: float) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    return tuple(_nk.add_layer_norm_forward(x, residual, normalized_shape, weight, bias, eps))


@add_layer_norm.register_fake
def _(x, residual, normalized_shape, weight, bias, eps):
    stats = _row_stats_shape(x, normalized_shape)
    return _contiguous_like(x), _contiguous_like(residual), _stats(x, stats), _stats(x, stats)


@torch.library.custom_op("normkit::add_layer_norm_backward", mutates_args=())
def add_layer_norm_backward(dy: Tensor, dresidual_out: Optional[Tensor], residual_out: Tensor,
                            normalized_shape: List[int], mean: Tensor, rstd: Tensor, weight: Optional[Tensor],
                            bias: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    _follow_torch_threads()
    dsum, dweight, dbias = _nk.add_layer_norm_backward(dy, dresidual_out, residual_out, normalized_shape, mean,
                                                       rstd, weight, bias)
    return dsum, _none_empty(dweight, dy), _none_empty(dbias, dy)


@add_layer_norm_backward.register_fake
def _(dy, dresidual_out, residual_out, normalized_shape, mean, rstd, weight, bias):
    dweight = torch.empty_like(weight) if weight is not None else dy.new_empty(0)
    dbias = torch.empty_like(bias) if bias is not None else dy.new_empty(0)
    return _contiguous_like(dy), dweight, dbias


def _add_layer_norm_setup(ctx, inputs, output):
    x, _, normalized_shape, weight, bias, _ = inputs
    ctx.save_for_backward(output[1], weight, bias, output[2], output[3])
    ctx.normalized_shape, ctx.y_dtype = normalized_shape, x.dtype


def _add_layer_norm_grad(ctx, dy, dresidual_out, _mean, _rstd):
    _first_derivative_only("AddLayerNorm")
    residual_out, weight, bias, mean, rstd = ctx.saved_tensors
    if dy is None:
        dy = torch.zeros_like(residual_out, dtype=ctx.y_dtype)
    dsum, dweight, dbias = add_layer_norm_backward(dy, dresidual_out, residual_out, ctx.normalized_shape, mean,
                                                   rstd, weight, bias)
    return _as_needed(ctx, dsum, dsum, None, _empty_none(dweight), _empty_none(dbias))


add_layer_norm.register_autograd(_add_layer_norm_grad, setup_context=_add_layer_norm_setup)
