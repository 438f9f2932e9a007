"""The lab's networks as normkit modules: ``make_model('resnet', 'bn', depth=8)``
gives a ``Sequential`` whose state dict has the keys that the same
``torch.nn.Sequential`` would have (docs/python.md shows the PyTorch twin)."""

from ._normkit import models as _models

Sequential = _models.Sequential
make_model = _models.make_model

__all__ = ["Sequential", "make_model"]
