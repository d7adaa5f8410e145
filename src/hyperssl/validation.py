"""Checks of a composed config, run once before any data or model is built.

Types and key names are enforced by the schemas (:mod:`hyperssl.config`); each part checks its own
values (its schema's ``validate``, :mod:`hyperssl.registry`). This module runs them, checks the
names of the selected parts against their registries, and the rules that span several groups.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from hyperssl.backbones.registry import BACKBONES
from hyperssl.callbacks.schema import validate_diagnostics
from hyperssl.data.schema import validate_augmentations, validate_data_config
from hyperssl.errors import ConfigError, require
from hyperssl.geometries import GEOMETRIES
from hyperssl.heads.registry import validate_heads
from hyperssl.loggers import LOGGERS
from hyperssl.methods.nan_guard import NAN_GUARD_MODES
from hyperssl.methods.registry import METHODS
from hyperssl.optim import OPTIMIZERS, SCHEDULERS
from hyperssl.registry import Registry

PRECISIONS = ("32-true", "32", "64-true", "16-mixed", "bf16-mixed", "bf16-true", "16-true")


def reject_unknown_keys(node: Any, path: str = "") -> None:
    """Keys added with Hydra's ``+key=value`` bypass the schema's struct mode: check them here."""
    if isinstance(node, DictConfig):
        schema = OmegaConf.get_type(node)
        if dataclasses.is_dataclass(schema):
            fields = [field.name for field in dataclasses.fields(schema)]
            for key in node:
                if key not in fields:
                    raise ConfigError(f"{path}{key}", "unknown key", ", ".join(fields))
        for key in node:
            reject_unknown_keys(node._get_node(key), f"{path}{key}.")
    elif isinstance(node, ListConfig):
        for index in range(len(node)):
            reject_unknown_keys(node._get_node(index), f"{path}{index}.")


def known_world_size(cfg: DictConfig) -> int:
    """Processes the trainer settings ask for, when they say it with numbers (else 1; the method
    checks again once the trainer knows)."""
    devices = cfg.trainer.devices
    per_node = devices if isinstance(devices, int) and devices > 0 else 1
    if not isinstance(devices, int | str):
        per_node = len(devices)
    return per_node * cfg.trainer.num_nodes


def apply_gcl_spelling(cfg: DictConfig) -> None:
    """``method_kwargs.geometric_loss=True`` (the GCL README flag) selects the geodesic geometry."""
    if cfg.method_kwargs.geometric_loss:
        cfg.geometry = GEOMETRIES.config_node("geodesic")


def validate_part(registry: Registry, cfg: DictConfig, group: str) -> Any:
    """The selected part of ``group``: its name is registered, its keys and values are those of
    its schema; returns the schema object."""
    node = cfg[group]
    return registry.validate(node[registry.name_field], node, cfg, group)


def validate_training(cfg: DictConfig) -> None:
    """What every training entry point shares: optimizer, schedule, logger and trainer."""
    validate_part(OPTIMIZERS, cfg, "optimizer")
    validate_part(SCHEDULERS, cfg, "scheduler")
    validate_part(LOGGERS, cfg, "logger")
    precision = str(cfg.trainer.precision)
    require(precision in PRECISIONS, "trainer.precision", precision, ", ".join(PRECISIONS))
    require(
        cfg.trainer.max_epochs >= 1 or cfg.trainer.max_steps >= 1,
        "trainer.max_epochs",
        cfg.trainer.max_epochs,
        ">= 1 (or trainer.max_steps >= 1)",
    )


def validate_pretrain(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first bad value of a pretraining config."""
    reject_unknown_keys(cfg)
    apply_gcl_spelling(cfg)
    validate_part(METHODS, cfg, "method")
    validate_part(GEOMETRIES, cfg, "geometry")
    validate_part(BACKBONES, cfg, "backbone")
    validate_data_config(cfg.data)
    validate_training(cfg)
    require(
        cfg.nan_guard in NAN_GUARD_MODES, "nan_guard", cfg.nan_guard, ", ".join(NAN_GUARD_MODES)
    )
    require(cfg.knn.k >= 1, "knn.k", cfg.knn.k, ">= 1")
    require(cfg.knn.temperature > 0, "knn.temperature", cfg.knn.temperature, "> 0")
    validate_augmentations(cfg.augmentations)
    num_views = sum(pipeline.num_crops for pipeline in cfg.augmentations)
    min_views = METHODS.get(cfg.method.name).min_views
    require(
        num_views >= min_views,
        "augmentations",
        f"{num_views} view(s)",
        f"pipelines giving at least {min_views} view(s) in total (sum of num_crops) for "
        f"method {cfg.method.name!r}",
    )
    validate_heads(cfg.heads, cfg)
    validate_diagnostics(cfg.diagnostics)
