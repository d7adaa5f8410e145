"""The pretraining config's schema and Hydra's ConfigStore, filled from the part registries.

The schema is the one place where a key, its type and its default live; the YAML files under
``configs/`` only choose values. Each part (method, geometry, head, backbone, data set, optimizer,
scheduler) registers its own schema beside its class (:mod:`hyperssl.registry`), and every
registered option is stored in the ConfigStore under its group: ``method=simclr`` selects the
``SimCLRConfig`` defaults. Hydra merges every choice onto these dataclasses in struct mode, so a
misspelt key or a value of the wrong type is rejected before anything is built.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from hyperssl.backbones.registry import BackboneConfig
from hyperssl.callbacks.schema import DiagnosticsConfig
from hyperssl.data.schema import AugmentationConfig, DataConfig
from hyperssl.geometries.base import GeometryConfig
from hyperssl.loggers import LoggerConfig
from hyperssl.optim import OptimizerConfig, SchedulerConfig
from hyperssl.parts import PART_REGISTRIES


@dataclass
class GCLKwargsConfig:
    """GCL/solo-learn spelling: ``method_kwargs.geometric_loss=True`` = ``geometry=geodesic``."""

    geometric_loss: bool = False


@dataclass
class TrainerConfig:
    """Lightning ``Trainer`` arguments, passed through as they are."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_epochs: int = 100
    max_steps: int = -1
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 10
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = None
    deterministic: Any = False
    benchmark: bool | None = None
    sync_batchnorm: bool | None = None  # None: on whenever training is distributed
    enable_progress_bar: bool = True
    num_sanity_val_steps: int = 0
    # Not a Lightning argument: convolutions in channels-last layout. On by default: faster with
    # tensor cores under mixed precision, and on CPU too (2 cores, ResNet-18 at 32 px, batch 64:
    # 8-12 % more images/s; ConvNet-4 at 32 px, batch 128: 25 % less time per step). Ignored
    # under DDP on CPUs.
    channels_last: bool = True


@dataclass
class CheckpointConfig:
    enabled: bool = True
    every_n_epochs: int = 1
    monitor: str | None = "val/acc1"  # the "best" checkpoint; None keeps only last.ckpt
    keep_every_epoch: bool = False  # also keep checkpoints/epochNNN.ckpt of every saved epoch
    mode: str = "max"


@dataclass
class KNNConfig:
    """The weighted k-NN run on the final features of a pretraining run."""

    enabled: bool = True
    k: int = 20
    temperature: float = 0.07


@dataclass
class PretrainConfig:
    method: Any = MISSING
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augmentations: list[AugmentationConfig] = field(default_factory=list)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    heads: dict[str, Any] = field(default_factory=dict)
    method_kwargs: GCLKwargsConfig = field(default_factory=GCLKwargsConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    knn: KNNConfig = field(default_factory=KNNConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    name: str = "${method.name}-${data.dataset}"
    seed: int = 5
    resume: str | None = None  # a .ckpt, a run dir, or "auto": continue this run dir if it has one
    compile: bool = False  # torch.compile the backbone, projector and predictor (eager fallback)
    nan_guard: str = "auto"  # when a NaN/inf loss is caught: auto, step, deferred (nan_guard.py)


MAX_DIR_NAME_BYTES = 120
# What a directory name keeps as typed: letters and digits of any script and the characters of
# overrides (``key=value``, ``,``, ``[a,b]``, ``+key``); anything else (path separators, control
# characters, spaces, quotes, shell wildcards) becomes ``_``.
_NOT_KEPT_IN_DIR_NAME = re.compile(r"[^\w=,.+\-\[\]{}:@%~]")


def short_dir_name(name: str) -> str:
    """One directory name, safe and readable, from ``name`` (a run's ``name``, a sweep job's
    overrides): no path separator, no ``..``, no leading ``.`` or ``-``, no control character,
    and at most 120 bytes (file systems refuse 255), cut with a hash of the whole to stay distinct.

    Hand-written: Hydra's own ``get_valid_filename`` drops ``=``, ``,`` and ``[]``, which make
    the overrides readable, and ``pathvalidate`` would be a new dependency for ten lines.
    """
    safe = _NOT_KEPT_IN_DIR_NAME.sub("_", name)
    safe = re.sub(r"\.{2,}", "_", safe)
    safe = re.sub(r"^[.\-]", "_", safe)
    encoded = safe.encode()
    if len(encoded) <= MAX_DIR_NAME_BYTES:
        return safe
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    head = encoded[: MAX_DIR_NAME_BYTES - 9].decode(errors="ignore")
    return f"{head}-{digest}"


def register_configs() -> None:
    """Store the schemas and every registered option; called by the entry points before Hydra
    composes (reading the registries imports every part's module).

    Storing takes 0.1 s, more than a third of a composition, and the tests, the benchmarks and
    one's own code compose many times in one process: the options are stored again only when a
    registry has changed since (a part registered later) or the store no longer holds them.
    """
    OmegaConf.register_new_resolver("short", short_dir_name, replace=True)
    share_the_store_in_copies()
    store = ConfigStore.instance()
    if "pretrain_schema.yaml" not in store.repo:
        _store_options.cache_clear()
    _store_options(store, registered_options())


def share_the_store_in_copies() -> None:
    """A deep copy of Hydra's ConfigStore is the store itself.

    Hydra 1.3 deep-copies its config repository at every composition (once per config group
    for ``--help``), and with it the ConfigStore its structured-config source holds: every
    stored schema, 0.09 s of a 0.19 s composition here. Hydra's main branch has that source read
    the live store instead (facebookresearch/hydra#2928, not in a 1.3 release); this gives 1.3
    the same behaviour. The store is one per process, and a composition only reads it (it
    loads copies of the nodes). Hydra's ``Singleton.get_state``, which the launchers pickle for
    their jobs, then holds the live store rather than a snapshot of it, with the same content.
    Written by hand: no Hydra setting turns the copy off.
    """
    if "__deepcopy__" not in vars(ConfigStore):
        ConfigStore.__deepcopy__ = lambda store, memo: store


def registered_options() -> tuple[tuple[str, tuple[tuple[str, type], ...]], ...]:
    """Every registry's group and its options' names and schemas."""
    return tuple(
        (registry.group, tuple((entry.name, entry.schema) for entry in registry))
        for registry in PART_REGISTRIES
    )


@functools.lru_cache(maxsize=1)
def _store_options(store: ConfigStore, options: tuple) -> None:
    """Store the schemas and ``options`` (:func:`registered_options`) in ``store``."""
    store.store(name="pretrain_schema", node=PretrainConfig)
    for registry in PART_REGISTRIES:
        registry.store(store)
    from hyperssl.eval.schema import register_eval_configs  # it imports this module

    register_eval_configs(store)
