"""Cross-field checks of a composed config, run once before any data or model is built.

Types and key names are already enforced by the schemas (``hyperssl.config``); this module checks
names of registered components, value ranges, and rules that span several groups.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from hyperssl.backbones import available_backbones
from hyperssl.callbacks.schema import validate_diagnostics
from hyperssl.data.schema import validate_augmentations, validate_data_config
from hyperssl.errors import ConfigError
from hyperssl.geometry import GEOMETRIES
from hyperssl.heads import validate_heads
from hyperssl.optim import OPTIMIZERS, SCHEDULERS

LOGGERS = ("csv", "tensorboard", "wandb")
PRECISIONS = ("32-true", "32", "64-true", "16-mixed", "bf16-mixed", "bf16-true", "16-true")


def _require(ok: bool, key: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(key, f"got {value!r}", allowed)


def _check_name(key: str, value: str, allowed: tuple[str, ...] | list[str]) -> None:
    _require(value in allowed, key, value, ", ".join(allowed))


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


def check_queue_size(queue_size: int, global_batch: int) -> None:
    """MoCo's queue takes the keys of two views per step, so it must be a multiple of 2 x batch."""
    keys_per_step = 2 * global_batch
    if queue_size < 1 or queue_size % keys_per_step:
        raise ConfigError(
            "method.queue_size",
            f"{queue_size} is not a multiple of the keys enqueued per step "
            f"(2 views x global batch {global_batch} = {keys_per_step})",
            f"a multiple of {keys_per_step}",
        )


def apply_gcl_spelling(cfg: DictConfig) -> None:
    """``method_kwargs.geometric_loss=True`` (the GCL README flag) selects the geodesic geometry."""
    if cfg.method_kwargs.geometric_loss:
        cfg.geometry.name = "geodesic"


def validate_pretrain(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first bad value of a pretraining config."""
    from hyperssl.methods import METHODS  # the methods import Lightning; keep this module light
    from hyperssl.methods.nan_guard import NAN_GUARD_MODES

    reject_unknown_keys(cfg)
    apply_gcl_spelling(cfg)
    _check_name("method", cfg.method.name, sorted(METHODS))
    _check_name("geometry", cfg.geometry.name, GEOMETRIES)
    _check_name("backbone.name", cfg.backbone.name, available_backbones())
    _check_name("optimizer.name", cfg.optimizer.name, OPTIMIZERS)
    _check_name("scheduler.name", cfg.scheduler.name, SCHEDULERS)
    _check_name("logger.name", cfg.logger.name, LOGGERS)
    _check_name("trainer.precision", str(cfg.trainer.precision), PRECISIONS)
    _check_name("nan_guard", cfg.nan_guard, NAN_GUARD_MODES)
    if cfg.method.name == "supervised":
        _check_name("method.classifier", cfg.method.classifier, ("linear", "spheric"))
    if "queue_size" in cfg.method:
        check_queue_size(cfg.method.queue_size, cfg.optimizer.batch_size * known_world_size(cfg))
    if "momentum" in cfg.method:
        tau = cfg.method.momentum
        _require(
            0 <= tau.base_tau <= tau.final_tau <= 1,
            "method.momentum",
            f"base_tau={tau.base_tau}, final_tau={tau.final_tau}",
            "0 <= base_tau <= final_tau <= 1",
        )
    if "temperature" in cfg.method:
        _require(cfg.method.temperature > 0, "method.temperature", cfg.method.temperature, "> 0")
    _require(cfg.optimizer.lr > 0, "optimizer.lr", cfg.optimizer.lr, "> 0")
    _require(
        cfg.optimizer.batch_size >= 1, "optimizer.batch_size", cfg.optimizer.batch_size, ">= 1"
    )
    _require(
        cfg.trainer.max_epochs >= 1 or cfg.trainer.max_steps >= 1,
        "trainer.max_epochs",
        cfg.trainer.max_epochs,
        ">= 1 (or trainer.max_steps >= 1)",
    )
    _require(cfg.knn.k >= 1, "knn.k", cfg.knn.k, ">= 1")
    _require(cfg.knn.temperature > 0, "knn.temperature", cfg.knn.temperature, "> 0")
    validate_data_config(cfg.data)
    validate_augmentations(cfg.augmentations)
    num_views = sum(pipeline.num_crops for pipeline in cfg.augmentations)
    min_views = METHODS[cfg.method.name].min_views
    _require(
        num_views >= min_views,
        "augmentations",
        f"{num_views} view(s)",
        f"pipelines giving at least {min_views} view(s) in total (sum of num_crops) for "
        f"method {cfg.method.name!r}",
    )
    validate_heads(cfg.heads)
    validate_diagnostics(cfg.diagnostics)
