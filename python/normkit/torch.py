"""normkit inside PyTorch: its kernels as autograd functions and as torch.nn
modules, and a one-line swap of a model's norm layers.

    import normkit.torch
    normkit.torch.convert(model)   # every torch.nn norm layer of a known type, in place
    normkit.torch.revert(model)    # and back

The modules subclass torch.nn's (BatchNorm1d/2d/3d, LayerNorm, GroupNorm,
InstanceNorm1d/2d/3d; RMSNorm subclasses torch.nn.RMSNorm where torch has it,
2.4 and newer) with the same parameters, buffers and state-dict keys: a
checkpoint moves between the two unchanged. Their forward and backward are
normkit's kernels (the same bits for any thread count; docs/torch.md),
called on the tensors' own memory through DLPack; running statistics are
updated in place in the module's buffers, as torch does. Where normkit has
no kernel for a call (a tensor on another device, float64, InstanceNorm in
eval mode with tracked statistics, an input of a rank torch accepts and
normkit does not) the module runs torch's own op, so a converted model runs
everywhere. A second derivative raises (the backward is normkit's, not a
composition of differentiable torch ops).

Importing this module imports torch; `import normkit` alone does not.
"""

import torch
import torch.nn.functional as F

import normkit as _nk
from ._torch_common import follow_torch_threads as _follow_torch_threads

# torch.library custom operators where torch has them (2.4 and newer:
# torch.compile and torch.export trace them); autograd functions otherwise.
if hasattr(torch.library, "custom_op") and hasattr(torch.library, "register_fake"):
    from . import _torch_ops as _ops
else:
    _ops = None

__all__ = [
    "AddLayerNorm", "AddRMSNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "BatchRenorm2d",
    "GhostBatchNorm2d", "GroupNorm",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "RMSNorm",
    "adain", "add_layer_norm", "add_rms_norm", "batch_norm", "convert", "group_norm",
    "instance_norm", "layer_norm", "revert", "rms_norm",
]

_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _supported(*tensors):
    """Whether normkit's kernels take these tensors (None is fine)."""
    return all(t is None or (t.is_cpu and t.dtype in _DTYPES) for t in tensors)


def _no_second_derivative(ctx):
    """Raises for a backward that would be differentiated again (grad mode on
    in backward: create_graph=True): the backward is normkit's kernel, with no
    graph of its own, and would otherwise leave a gradient that silently has
    no history. Called as `if torch.is_grad_enabled(): _no_second_derivative(ctx)`
    at the top of each backward: that test is all the common case pays."""
    op = type(ctx).__name__.lstrip('_').split('Backward')[0]
    raise RuntimeError(f"normkit.torch: {op}'s backward is normkit's kernel and has no derivative of its own: a "
                       "second derivative (create_graph=True) is not supported; use torch's own layer for it")


# Each backward runs on the thread count its forward set (_follow_torch_threads)
# and returns a gradient for every tensor input: autograd drops those of inputs
# that need none. In a model, a backward runs after other layers' kernels have
# evicted the Python interpreter's and torch's code from the caches, where
# each Python-level step costs microseconds (a thread-count check 9 us, the
# needs_input_grad filter 11 us; TransformerEncoder, torch 1.13, Zen 5): the
# backward does only what it must.

# ---- autograd functions ----------------------------------------------------------

class _BatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        _follow_torch_threads()
        y, save_mean, save_invstd = _nk.batch_norm_forward(x, weight, bias, running_mean, running_var,
                                                          training, momentum, eps)
        ctx.save_for_backward(x, weight, running_mean, running_var, save_mean, save_invstd)
        ctx.training, ctx.eps = training, eps
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        x, weight, running_mean, running_var, save_mean, save_invstd = ctx.saved_tensors
        dx, dweight, dbias = _nk.batch_norm_backward(dy, x, weight, running_mean, running_var, save_mean,
                                                     save_invstd, ctx.training, ctx.eps)
        return dx, dweight, dbias, None, None, None, None, None


class _LayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, normalized_shape, weight, bias, eps):
        _follow_torch_threads()
        y, mean, rstd = _nk.layer_norm_forward(x, normalized_shape, weight, bias, eps)
        ctx.save_for_backward(x, weight, bias, mean, rstd)
        ctx.normalized_shape = normalized_shape
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        x, weight, bias, mean, rstd = ctx.saved_tensors
        dx, dweight, dbias = _nk.layer_norm_backward(dy, x, ctx.normalized_shape, mean, rstd, weight, bias)
        return dx, None, dweight, dbias, None


class _RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, normalized_shape, weight, eps, weight_offset):
        _follow_torch_threads()
        y, rstd = _nk.rms_norm_forward(x, normalized_shape, weight, eps, weight_offset=weight_offset)
        ctx.save_for_backward(x, weight, rstd)
        ctx.normalized_shape, ctx.weight_offset = normalized_shape, weight_offset
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        x, weight, rstd = ctx.saved_tensors
        dx, dweight = _nk.rms_norm_backward(dy, x, ctx.normalized_shape, rstd, weight,
                                            weight_offset=ctx.weight_offset)
        return dx, None, dweight, None, None


class _GroupNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, num_groups, weight, bias, eps):
        _follow_torch_threads()
        y, mean, rstd = _nk.group_norm_forward(x, weight, bias, num_groups, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.num_groups = num_groups
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        x, weight, mean, rstd = ctx.saved_tensors
        dx, dweight, dbias = _nk.group_norm_backward(dy, x, mean, rstd, weight, ctx.num_groups)
        return dx, None, dweight, dbias, None


class _InstanceNorm(torch.autograd.Function):
    """Instance statistics (use_input_stats): the running statistics, when
    given, are updated in place."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        _follow_torch_threads()
        y, mean, rstd = _nk.instance_norm_forward(x, weight, bias, running_mean, running_var, True, momentum, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        x, weight, mean, rstd = ctx.saved_tensors
        dx, dweight, dbias = _nk.instance_norm_backward(dy, x, weight, mean, rstd)
        return dx, dweight, dbias, None, None, None, None


class _AdaIN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, content, style, eps):
        _follow_torch_threads()
        y, c_mean, c_rstd, s_mean, s_rstd = _nk.adain_forward(content, style, eps)
        ctx.save_for_backward(content, style, c_mean, c_rstd, s_mean, s_rstd)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        dcontent, dstyle = _nk.adain_backward(dy, *ctx.saved_tensors, ctx.eps)
        return dcontent, dstyle, None


class _GhostBatchNorm(torch.autograd.Function):
    """Ghost BN in training: groups of virtual_batch_size samples, each with
    its own statistics (running statistics, when given, updated in place)."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, virtual_batch_size, momentum, eps):
        _follow_torch_threads()
        y, save_mean, save_invstd = _nk.ghost_batch_norm_forward(x, weight, bias, running_mean, running_var,
                                                                virtual_batch_size, momentum, eps)
        ctx.save_for_backward(x, weight, save_mean, save_invstd)
        ctx.virtual_batch_size, ctx.eps = virtual_batch_size, eps
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        x, weight, save_mean, save_invstd = ctx.saved_tensors
        dx, dweight, dbias = _nk.ghost_batch_norm_backward(dy, x, weight, save_mean, save_invstd,
                                                           ctx.virtual_batch_size, ctx.eps)
        return dx, dweight, dbias, None, None, None, None, None


class _BatchRenorm(torch.autograd.Function):
    """Batch Renorm in training: r and d (clipped by rmax, dmax) constants in
    backward; the running statistics updated in place."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, rmax, dmax, momentum, eps):
        _follow_torch_threads()
        y, save_mean, save_invstd, r, d = _nk.batch_renorm_forward(x, weight, bias, running_mean, running_var,
                                                                   rmax, dmax, momentum, eps)
        ctx.save_for_backward(x, weight, save_mean, save_invstd, r, d)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, dy):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        dx, dweight, dbias = _nk.batch_renorm_backward(dy, *ctx.saved_tensors, ctx.eps)
        return dx, dweight, dbias, None, None, None, None, None, None


class _AddNorm(torch.autograd.Function):
    """The residual add fused with RMSNorm (rms True, no bias) or LayerNorm:
    outputs (y, residual_out); the gradient of x and of residual is dsum."""

    @staticmethod
    def forward(ctx, x, residual, normalized_shape, weight, bias, eps, rms, weight_offset):
        _follow_torch_threads()
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None (no zeros made)
        if rms:
            y, residual_out, rstd = _nk.add_rms_norm_forward(x, residual, normalized_shape, weight, eps,
                                                            weight_offset=weight_offset)
            mean = None
        else:
            y, residual_out, mean, rstd = _nk.add_layer_norm_forward(x, residual, normalized_shape, weight, bias,
                                                                    eps)
        ctx.save_for_backward(residual_out, weight, bias, mean, rstd)
        ctx.normalized_shape, ctx.rms, ctx.weight_offset, ctx.y_dtype = normalized_shape, rms, weight_offset, y.dtype
        return y, residual_out

    @staticmethod
    def backward(ctx, dy, dresidual_out):
        if torch.is_grad_enabled():
            _no_second_derivative(ctx)
        residual_out, weight, bias, mean, rstd = ctx.saved_tensors
        if dy is None:  # only residual_out was used
            dy = torch.zeros_like(residual_out, dtype=ctx.y_dtype)
        if ctx.rms:
            dsum, dweight = _nk.add_rms_norm_backward(dy, dresidual_out, residual_out, ctx.normalized_shape, rstd,
                                                      weight, weight_offset=ctx.weight_offset)
            dbias = None
        else:
            dsum, dweight, dbias = _nk.add_layer_norm_backward(dy, dresidual_out, residual_out,
                                                               ctx.normalized_shape, mean, rstd, weight, bias)
        return dsum, dsum, None, dweight, dbias, None, None, None


# ---- functions, as torch.nn.functional's --------------------------------------------

# The operators trace (torch.compile, torch.export) but cost tens of
# microseconds a call in eager mode (torch.library's Python dispatch), where
# the autograd functions cost a few: each call takes the operator only while
# torch traces it, or when its tensor is not a plain one (the fake and
# functional tensors of a non-strict export).
_EAGER_TYPES = (torch.Tensor, torch.nn.Parameter)


def _traced(x):
    """Whether this call goes through the torch.library operators."""
    return _ops is not None and (torch.compiler.is_compiling() or type(x) not in _EAGER_TYPES)


def _shape(normalized_shape):
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """torch.nn.functional.batch_norm on normkit's kernels (running statistics
    updated in place when training)."""
    if _traced(x):
        return _ops.batch_norm_updating(x, weight, bias, running_mean, running_var, training, momentum, eps)
    return _BatchNorm.apply(x, weight, bias, running_mean, running_var, training, momentum, eps)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """torch.nn.functional.layer_norm on normkit's kernels."""
    if _traced(x):
        return _ops.layer_norm(x, list(_shape(normalized_shape)), weight, bias, eps)[0]
    return _LayerNorm.apply(x, _shape(normalized_shape), weight, bias, eps)


def rms_norm(x, normalized_shape, weight=None, eps=None, weight_offset=0.0):
    """torch.nn.functional.rms_norm (torch 2.4) on normkit's kernels; eps None is
    float32's machine epsilon; y = x * rstd * (weight_offset + weight)."""
    if _traced(x):
        return _ops.rms_norm(x, list(_shape(normalized_shape)), weight, eps, weight_offset)[0]
    return _RMSNorm.apply(x, _shape(normalized_shape), weight, eps, weight_offset)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """torch.nn.functional.group_norm on normkit's kernels."""
    if _traced(x):
        return _ops.group_norm(x, num_groups, weight, bias, eps)[0]
    return _GroupNorm.apply(x, num_groups, weight, bias, eps)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, momentum=0.1, eps=1e-5):
    """torch.nn.functional.instance_norm with use_input_stats=True on normkit's
    kernels (running statistics, when given, updated in place)."""
    if _traced(x):
        return _ops.instance_norm_updating(x, weight, bias, running_mean, running_var, momentum, eps)
    return _InstanceNorm.apply(x, weight, bias, running_mean, running_var, momentum, eps)


def adain(content, style, eps=1e-5):
    """Adaptive Instance Normalization: content normalized to style's per-(n, c)
    mean and standard deviation."""
    if _traced(content):
        return _ops.adain(content, style, eps)[0]
    return _AdaIN.apply(content, style, eps)


def add_rms_norm(x, residual, normalized_shape, weight=None, eps=None, weight_offset=0.0):
    """(y, residual_out): residual_out = x + residual, y its RMSNorm, in one pass."""
    if _traced(x):
        return tuple(_ops.add_rms_norm(x, residual, list(_shape(normalized_shape)), weight, eps, weight_offset)[:2])
    return _AddNorm.apply(x, residual, _shape(normalized_shape), weight, None, eps, True, weight_offset)


def add_layer_norm(x, residual, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(y, residual_out): residual_out = x + residual, y its LayerNorm, in one pass."""
    if _traced(x):
        return tuple(_ops.add_layer_norm(x, residual, list(_shape(normalized_shape)), weight, bias, eps)[:2])
    return _AddNorm.apply(x, residual, _shape(normalized_shape), weight, bias, eps, False, 0.0)


# ---- modules -------------------------------------------------------------------------

class _BatchNormMixin:
    """torch.nn.modules.batchnorm._BatchNorm.forward, on normkit's kernels."""

    def forward(self, input):
        if not _supported(input, self.weight, self.running_mean):
            return super().forward(input)
        self._check_input_dim(input)
        # As torch: the momentum, or the cumulative average when it is None.
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_buffers = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if use_buffers else None,
                          self.running_var if use_buffers else None, self.weight, self.bias, bn_training, factor,
                          self.eps)


class BatchNorm1d(_BatchNormMixin, torch.nn.BatchNorm1d):
    """torch.nn.BatchNorm1d on normkit's kernels."""


class BatchNorm2d(_BatchNormMixin, torch.nn.BatchNorm2d):
    """torch.nn.BatchNorm2d on normkit's kernels."""


class BatchNorm3d(_BatchNormMixin, torch.nn.BatchNorm3d):
    """torch.nn.BatchNorm3d on normkit's kernels."""


def _momentum_factor(bn):
    """torch's BatchNorm update: num_batches_tracked counted, and the momentum,
    or the cumulative average's 1 / num_batches_tracked when it is None."""
    bn.num_batches_tracked.add_(1)
    return 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum


class GhostBatchNorm2d(BatchNorm2d):
    """Ghost BatchNorm (Hoffer et al. 2017) as a torch.nn.BatchNorm2d: in
    training each group of virtual_batch_size consecutive samples is normalized
    with its own statistics, and the running statistics move once per call,
    towards the groups' mean; eval is plain BatchNorm. The state dict is
    BatchNorm2d's. (An autograd function on every torch version: normkit's
    kernels, not a torch.library operator.)"""

    def __init__(self, num_features, virtual_batch_size, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        if virtual_batch_size < 1:
            raise ValueError(f"virtual_batch_size: expected a positive int, got {virtual_batch_size}")
        self.virtual_batch_size = virtual_batch_size

    def forward(self, input):
        if not self.training or not _supported(input, self.weight, self.running_mean):
            return super().forward(input)
        self._check_input_dim(input)
        factor = _momentum_factor(self) if self.track_running_stats else 0.0
        return _GhostBatchNorm.apply(input, self.weight, self.bias, self.running_mean, self.running_var,
                                     self.virtual_batch_size, factor, self.eps)

    def extra_repr(self):
        return super().extra_repr() + f", virtual_batch_size={self.virtual_batch_size}"


class BatchRenorm2d(BatchNorm2d):
    """Batch Renormalization (Ioffe 2017) as a torch.nn.BatchNorm2d: in training
    y = ((x - mean_B) / sigma_B * r + d) * weight + bias, r and d clipped by the
    schedule's rmax and dmax at this step (rmax = 1, dmax = 0 for warmup_steps,
    then linear to rmax at rmax_steps and dmax at dmax_steps; the step is
    num_batches_tracked, as normkit.nn's BatchRenorm); eval is plain
    BatchNorm. The state dict is BatchNorm2d's."""

    def __init__(self, num_features, rmax=3.0, dmax=5.0, warmup_steps=5000, rmax_steps=40000, dmax_steps=25000,
                 eps=1e-5, momentum=0.1, affine=True, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, True, device, dtype)
        self.rmax, self.dmax = rmax, dmax
        self.warmup_steps, self.rmax_steps, self.dmax_steps = warmup_steps, rmax_steps, dmax_steps
        self._limits(0)  # an invalid schedule is an error now, not thousands of steps later

    def _limits(self, step):
        if self.rmax < 1 or self.dmax < 0:
            raise ValueError(f"rmax, dmax: expected rmax >= 1 and dmax >= 0, got {self.rmax}, {self.dmax}")
        schedule = _nk.nn.BatchRenormSchedule(self.rmax, self.dmax, self.warmup_steps, self.rmax_steps,
                                              self.dmax_steps)
        return schedule.at(step)

    def forward(self, input):
        if not self.training or not _supported(input, self.weight, self.running_mean):
            return super().forward(input)
        self._check_input_dim(input)
        rmax, dmax = self._limits(int(self.num_batches_tracked))
        factor = _momentum_factor(self)
        return _BatchRenorm.apply(input, self.weight, self.bias, self.running_mean, self.running_var, rmax, dmax,
                                  factor, self.eps)

    def extra_repr(self):
        return super().extra_repr() + f", rmax={self.rmax}, dmax={self.dmax}, warmup_steps={self.warmup_steps}"


class LayerNorm(torch.nn.LayerNorm):
    """torch.nn.LayerNorm on normkit's kernels."""

    def forward(self, input):
        if not _supported(input, self.weight):
            return super().forward(input)
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class GroupNorm(torch.nn.GroupNorm):
    """torch.nn.GroupNorm on normkit's kernels."""

    def forward(self, input):
        if not _supported(input, self.weight) or input.dim() < 3:
            return super().forward(input)
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)


class _InstanceNormMixin:
    """torch.nn.modules.instancenorm._InstanceNorm.forward, on normkit's kernels
    where it uses instance statistics (training, or untracked statistics)."""

    def forward(self, input):
        use_input_stats = self.training or not self.track_running_stats
        batched = input.dim() == self._get_no_batch_dim() + 1
        if not (_supported(input, self.weight, self.running_mean) and use_input_stats and batched):
            return super().forward(input)
        self._check_input_dim(input)
        return instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias, self.momentum,
                             self.eps)


class InstanceNorm1d(_InstanceNormMixin, torch.nn.InstanceNorm1d):
    """torch.nn.InstanceNorm1d on normkit's kernels."""


class InstanceNorm2d(_InstanceNormMixin, torch.nn.InstanceNorm2d):
    """torch.nn.InstanceNorm2d on normkit's kernels."""


class InstanceNorm3d(_InstanceNormMixin, torch.nn.InstanceNorm3d):
    """torch.nn.InstanceNorm3d on normkit's kernels."""


if hasattr(torch.nn, "RMSNorm"):  # torch 2.4 and newer
    class RMSNorm(torch.nn.RMSNorm):
        """torch.nn.RMSNorm on normkit's kernels."""

        def forward(self, x):
            if not _supported(x, self.weight):
                return super().forward(x)
            return rms_norm(x, self.normalized_shape, self.weight, self.eps)
else:
    class RMSNorm(torch.nn.Module):
        """RMSNorm as torch 2.4's torch.nn.RMSNorm (normalized_shape, eps=None,
        elementwise_affine=True; state-dict key `weight`), on normkit's kernels."""

        def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
            super().__init__()
            self.normalized_shape = _shape(normalized_shape)
            self.eps = eps
            self.elementwise_affine = elementwise_affine
            if elementwise_affine:
                self.weight = torch.nn.Parameter(torch.ones(self.normalized_shape, device=device, dtype=dtype))
            else:
                self.register_parameter("weight", None)

        def forward(self, x):
            if not _supported(x, self.weight):
                eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
                dims = tuple(range(-len(self.normalized_shape), 0))
                y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
                return y * self.weight if self.weight is not None else y
            return rms_norm(x, self.normalized_shape, self.weight, self.eps)

        def extra_repr(self):
            return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class AddRMSNorm(torch.nn.Module):
    """The residual add fused with RMSNorm: forward(x, residual) returns
    (y, residual_out), residual_out = x + residual and y its RMSNorm
    (times weight_offset + weight). State-dict key `weight`."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, weight_offset=0.0, device=None,
                 dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps, self.weight_offset = eps, weight_offset
        self.weight = torch.nn.Parameter(torch.ones(self.normalized_shape, device=device, dtype=dtype)) \
            if elementwise_affine else None

    def forward(self, x, residual):
        if not _supported(x, residual, self.weight):  # torch's ops, as a model writes them
            s = x + residual
            eps = torch.finfo(s.dtype).eps if self.eps is None else self.eps
            dims = tuple(range(-len(self.normalized_shape), 0))
            y = s * torch.rsqrt(s.pow(2).mean(dims, keepdim=True) + eps)
            return (y * (self.weight_offset + self.weight) if self.weight is not None else y), s
        return add_rms_norm(x, residual, self.normalized_shape, self.weight, self.eps, self.weight_offset)


class AddLayerNorm(torch.nn.Module):
    """The residual add fused with LayerNorm: forward(x, residual) returns
    (y, residual_out). State-dict keys `weight`, `bias` (as torch.nn.LayerNorm)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        make = lambda fill: torch.nn.Parameter(torch.full(self.normalized_shape, fill, device=device, dtype=dtype))
        self.weight = make(1.0) if elementwise_affine else None
        self.bias = make(0.0) if elementwise_affine and bias else None

    def forward(self, x, residual):
        if not _supported(x, residual, self.weight):
            s = x + residual
            return F.layer_norm(s, self.normalized_shape, self.weight, self.bias, self.eps), s
        return add_layer_norm(x, residual, self.normalized_shape, self.weight, self.bias, self.eps)


# ---- the swap --------------------------------------------------------------------------

def _swaps():
    """{torch.nn class: normkit.torch class}: exact types only (a subclass of
    BatchNorm2d may override forward; it is left alone)."""
    pairs = {torch.nn.BatchNorm1d: BatchNorm1d, torch.nn.BatchNorm2d: BatchNorm2d,
             torch.nn.BatchNorm3d: BatchNorm3d, torch.nn.LayerNorm: LayerNorm, torch.nn.GroupNorm: GroupNorm,
             torch.nn.InstanceNorm1d: InstanceNorm1d, torch.nn.InstanceNorm2d: InstanceNorm2d,
             torch.nn.InstanceNorm3d: InstanceNorm3d}
    if hasattr(torch.nn, "RMSNorm"):
        pairs[torch.nn.RMSNorm] = RMSNorm
    return pairs


def convert(model):
    """Makes every torch.nn norm layer of a known type in `model` (the model
    itself included) run on normkit's kernels, in place, and returns model.
    Each layer keeps its parameters, buffers, hooks and train/eval mode: only
    its class changes (to the normkit.torch subclass, which adds no state),
    as SyncBatchNorm.convert_sync_batchnorm replaces BatchNorm layers."""
    swaps = _swaps()
    for module in model.modules():
        if type(module) in swaps:
            module.__class__ = swaps[type(module)]
    return model


def revert(model):
    """Undoes convert(): every normkit.torch layer in `model` is its torch.nn
    class again. Returns model."""
    back = {v: k for k, v in _swaps().items()}
    for module in model.modules():
        if type(module) in back:
            module.__class__ = back[type(module)]
    return model
