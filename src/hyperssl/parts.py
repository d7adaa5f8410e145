"""Every kind of part, by its registry: what the ConfigStore, validation, the README's options
table and the tests iterate over."""

from __future__ import annotations

from hyperssl.backbones.registry import BACKBONES
from hyperssl.data.registry import DATASETS
from hyperssl.geometries import GEOMETRIES
from hyperssl.heads.registry import HEADS
from hyperssl.loggers.registry import LOGGERS
from hyperssl.methods.registry import METHODS
from hyperssl.optim.registry import OPTIMIZERS, SCHEDULERS
from hyperssl.registry import Registry

PART_REGISTRIES: tuple[Registry, ...] = (
    METHODS,
    GEOMETRIES,
    HEADS,
    BACKBONES,
    DATASETS,
    OPTIMIZERS,
    SCHEDULERS,
    LOGGERS,
)
