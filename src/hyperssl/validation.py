"""Checks of a composed config, run once before any data or model is built.

Types and key names are enforced by the schemas (:mod:`hyperssl.config`); each part checks its own
values (its schema's ``validate``, :mod:`hyperssl.registry`). This module runs them, checks the
names of the selected parts against their registries, and the rules that span several groups.
"""

from __future__ import annotations

import dataclasses
import logging
import math
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

log = logging.getLogger(__name__)

# The largest crop (the size the backbone is built for) and data.image_size (the evaluation
# views) may differ by this factor at most: more means one of them was left at another data
# set's value (the default digits augmentation crops 32 px of 224 px folder images).
CROP_TO_IMAGE_SIZE_FACTOR = 2

PRECISIONS = ("32-true", "32", "64-true", "16-mixed", "bf16-mixed", "bf16-true", "16-true")
# Lightning's accelerators that run here without extra packages (tpu needs torch_xla, hpu
# habana's): the error names them rather than Lightning's traceback.
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
SEED_RANGE = 2**32  # numpy's seeds, which Lightning's seed_everything sets too


def check_entry_config(cfg: DictConfig) -> None:
    """What every entry point checks first: key names, numbers that are numbers, the seed."""
    reject_unknown_keys(cfg)
    reject_non_finite(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))
    require(0 <= cfg.seed < SEED_RANGE, "seed", cfg.seed, f"an integer in [0, {SEED_RANGE - 1}]")


def reject_non_finite(node: Any, path: str = "") -> None:
    """No setting is sensible as NaN or infinity (an lr, a weight, a temperature, a mean): name
    the first such value's key."""
    if isinstance(node, dict):
        for key, value in node.items():
            reject_non_finite(value, f"{path}{key}.")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            reject_non_finite(value, f"{path}{index}.")
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(path.rstrip("."), f"got {node}", "a finite number")


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
    check_trainer_hardware(cfg.trainer)
    # No training batches would end "successfully" with an untrained backbone; no validation
    # batches (0) is Lightning's way to skip validation.
    for key, least in (("limit_train_batches", 1), ("limit_val_batches", 0)):
        limit = cfg.trainer[key]
        batches = isinstance(limit, int) and limit >= least
        fraction = isinstance(limit, float) and least <= limit <= 1 and limit > 0
        require(
            limit is None or batches or fraction,
            f"trainer.{key}",
            limit,
            f"null (all), a number of batches >= {least} or a fraction in (0, 1]",
        )
    every = cfg.checkpoint.every_n_epochs
    require(every >= 1, "checkpoint.every_n_epochs", every, "an integer >= 1")


def _devices_ok(devices: Any) -> bool:
    """Lightning's ``devices``: "auto", -1, a count, "0,1"-style index strings, index lists."""
    if devices == "auto":
        return True
    if isinstance(devices, str):
        parts = [part.strip() for part in devices.split(",") if part.strip()]
        if not parts or not all(part.lstrip("-").isdigit() for part in parts):
            return False
        devices = int(parts[0]) if len(parts) == 1 else [int(part) for part in parts]
    if isinstance(devices, int):
        return devices >= 1 or devices == -1
    return len(devices) >= 1 and all(isinstance(d, int) and d >= 0 for d in devices)


def check_trainer_hardware(trainer: DictConfig) -> None:
    """``trainer.accelerator`` and ``trainer.devices`` in the forms Lightning takes here."""
    require(
        trainer.accelerator in ACCELERATORS,
        "trainer.accelerator",
        trainer.accelerator,
        ", ".join(ACCELERATORS),
    )
    require(
        _devices_ok(trainer.devices),
        "trainer.devices",
        trainer.devices,
        "auto, -1 (all), a count >= 1, or a list of device indices",
    )


def warn_if_warmup_covers_the_run(cfg: DictConfig) -> None:
    """Warn when the warm-up is as long as the run: the schedule cuts it to end one step before
    the last, so the learning rate climbs all run long and, in a short run, the online accuracy
    sits at chance. Only a warning: a quick check of the plumbing may want exactly that. The
    entry points call it once the run directory is known to be fresh: a warning logged before
    would be appended to the log of the run already there."""
    warmup, epochs = cfg.scheduler.warmup_epochs, cfg.trainer.max_epochs
    if warmup > 0 and epochs >= 1 and warmup >= epochs:
        log.warning(
            "scheduler.warmup_epochs (%g) >= trainer.max_epochs (%d): the warm-up covers the "
            "whole run, so the learning rate reaches its peak only at the last step; lower "
            "scheduler.warmup_epochs or raise trainer.max_epochs",
            warmup,
            epochs,
        )


def validate_pretrain(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first bad value of a pretraining config."""
    check_entry_config(cfg)
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
    check_crop_fits_image_size(cfg)
    check_multi_crop(cfg)
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


def check_multi_crop(cfg: DictConfig) -> None:
    """Pipelines cropping more than one size (multi-crop, Caron et al. 2020) need a method whose
    objective is defined for small crops, and list the large crops first (the methods read the
    first views as the global ones)."""
    crops = [pipeline.crop_size for pipeline in cfg.augmentations]
    if len(set(crops)) == 1:
        return
    method = cfg.method.name
    if not METHODS.get(method).multi_crop:
        takers = ", ".join(entry.name for entry in METHODS if entry.target.multi_crop)
        raise ConfigError(
            "augmentations",
            f"crops of sizes {crops} (multi-crop), which method {method!r} does not take",
            f"one crop_size for every pipeline, or multi-crop with method {takers}",
        )
    require(
        crops == sorted(crops, reverse=True),
        "augmentations",
        f"crop sizes {crops} in pipeline order",
        "the large crops' pipelines first (crop sizes not increasing)",
    )


def check_crop_fits_image_size(cfg: DictConfig) -> None:
    """Refuse crops far from ``data.image_size``: the backbone is built for the largest crop and
    evaluated (validation, k-NN, linear probe) on views of ``data.image_size``, so a large gap
    means one of them kept another data set's value. Smaller crops of other pipelines (local
    views) are not compared."""
    crops = [pipeline.crop_size for pipeline in cfg.augmentations]
    index = crops.index(max(crops))
    crop, image_size = crops[index], cfg.data.image_size
    factor = CROP_TO_IMAGE_SIZE_FACTOR
    if max(crop, image_size) > factor * min(crop, image_size):
        raise ConfigError(
            f"augmentations.{index}.crop_size",
            f"got {crop} for data.image_size {image_size} (data set {cfg.data.dataset!r}): the "
            f"backbone is built for the crops and evaluated at data.image_size, more than "
            f"{factor}x {'larger' if image_size > crop else 'smaller'}",
            f"an augmentations preset whose crop_size follows data.image_size (symmetric, "
            f"symmetric_weak, asymmetric, ...), a preset of scripts/pretrain/custom/ for your own "
            f"images, or data.image_size={crop}",
        )
