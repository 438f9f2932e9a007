"""Stateful normalization modules with train()/eval(), forward/backward and
state dicts keyed as in PyTorch (weight, bias, running_mean, running_var,
num_batches_tracked).

Ghost BN and Batch Renorm are BatchNorm with an option; the classes below
name them for readability.
"""

from ._normkit import (
    AdaIN,
    AddLayerNorm,
    AddRMSNorm,
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    BatchRenormSchedule,
    DyT,
    FrozenBatchNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    Module,
    RMSNorm,
    recalibrate_running_stats,
)


def _ghost(base):
    class Ghost(base):
        """Ghost BatchNorm (Hoffer et al. 2017): training normalizes each group of
        virtual_batch_size consecutive samples with its own statistics; eval is plain BN."""

        def __init__(self, num_features, virtual_batch_size, **kwargs):
            super().__init__(num_features, virtual_batch_size=virtual_batch_size, **kwargs)

    Ghost.__name__ = Ghost.__qualname__ = "Ghost" + base.__name__
    return Ghost


def _renorm(base):
    class Renorm(base):
        """Batch Renormalization (Ioffe 2017): r and d clipped by rmax and dmax, relaxed
        over training by the schedule (warmup_steps=0, rmax_steps=0, dmax_steps=0 for
        constant limits); eval is plain BN."""

        def __init__(self, num_features, rmax=3.0, dmax=5.0, warmup_steps=5000,
                     rmax_steps=40000, dmax_steps=25000, **kwargs):
            schedule = BatchRenormSchedule(rmax, dmax, warmup_steps, rmax_steps, dmax_steps)
            super().__init__(num_features, renorm=schedule, **kwargs)

    Renorm.__name__ = Renorm.__qualname__ = base.__name__.replace("BatchNorm", "BatchRenorm")
    return Renorm


GhostBatchNorm1d, GhostBatchNorm2d, GhostBatchNorm3d = map(_ghost, (BatchNorm1d, BatchNorm2d, BatchNorm3d))
BatchRenorm1d, BatchRenorm2d, BatchRenorm3d = map(_renorm, (BatchNorm1d, BatchNorm2d, BatchNorm3d))

__all__ = [
    "AdaIN", "AddLayerNorm", "AddRMSNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "BatchRenorm1d", "BatchRenorm2d",
    "BatchRenorm3d", "BatchRenormSchedule", "DyT", "FrozenBatchNorm2d", "GhostBatchNorm1d",
    "GhostBatchNorm2d", "GhostBatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
    "InstanceNorm3d", "LayerNorm", "Module", "RMSNorm", "recalibrate_running_stats",
]
