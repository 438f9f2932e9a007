"""Stateful normalization modules with train()/eval(), forward/backward and
state dicts keyed as in PyTorch (weight, bias, running_mean, running_var,
num_batches_tracked)."""

from ._normkit import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
