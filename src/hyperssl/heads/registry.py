"""The head registry (``heads=[uniformity,mhe]``, keys under ``heads.<name>.*``) and the one
call that builds a head from its name, its keys and the run's geometry."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from hyperssl.errors import require
from hyperssl.heads.base import LossHead
from hyperssl.registry import Registry

HEADS: Registry[type[LossHead]] = Registry(
    "head", "heads", "hyperssl.heads", key="heads", multi=True
)
register_head = HEADS.register


def build_head(
    name: str, values: Any = None, geometry: Any = "cosine", cfg: DictConfig | None = None
) -> LossHead:
    """The head ``name`` with ``values`` over its schema's defaults (checked: unknown keys, types
    and the schema's own rules), for the run's ``geometry``."""
    key = f"heads.{name}"
    config = HEADS.typed(name, values, key)
    config.validate(cfg, key)
    return HEADS.get(name, "heads")(name, config, geometry)


def validate_heads(heads: DictConfig | dict, cfg: DictConfig | None = None) -> None:
    """Check every selected head's name, keys, types and values."""
    for name, values in heads.items():
        head = HEADS.validate(name, values, cfg, f"heads.{name}")
        # A negative weight would maximise the head's loss: never what a regulariser is for.
        require(head.weight >= 0, f"heads.{name}.weight", head.weight, ">= 0")


def build_heads(heads: DictConfig | dict, geometry: Any) -> list[LossHead]:
    """The selected heads in selection order."""
    return [build_head(name, values, geometry) for name, values in heads.items()]
