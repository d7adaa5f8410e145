"""Heads by name, each with the schema of its keys (``heads=[uniformity,mhe]``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from hyperssl.errors import ConfigError
from hyperssl.heads.base import LossHead
from hyperssl.heads.contrastive import NTXentHead
from hyperssl.heads.hyperspherical import AlignUniformHead, HCRHead, MHEHead, UniformityHead
from hyperssl.losses.mhe import MHE_POWERS


@dataclass
class NTXentHeadConfig:
    weight: float = 1.0
    temperature: float = 0.2


@dataclass
class UniformityHeadConfig:
    weight: float = 1.0
    t: float = 2.0


@dataclass
class AlignUniformHeadConfig:
    weight: float = 1.0
    alpha: float = 2.0
    t: float = 2.0
    lam: float = 1.0


@dataclass
class MHEHeadConfig:
    weight: float = 1.0
    power: str = "0"
    half_space: bool = False
    hidden_weight: float | None = None  # None: the paper code's 1 (0.1 for a1, a2)
    final_weight: float | None = None  # None: the paper code's 10 (1 for a1, a2)
    layers: list[str] | None = None  # None: the method's (backbone+projector, or +classifier)
    final_layer: str | None = None
    target: str = "weights"


@dataclass
class HCRHeadConfig:
    weight: float = 1.0


HEADS: dict[str, tuple[type, type[LossHead]]] = {
    "nt_xent": (NTXentHeadConfig, NTXentHead),
    "uniformity": (UniformityHeadConfig, UniformityHead),
    "align_uniform": (AlignUniformHeadConfig, AlignUniformHead),
    "mhe": (MHEHeadConfig, MHEHead),
    "hcr": (HCRHeadConfig, HCRHead),
}


def _typed(name: str, node: Any) -> DictConfig:
    if name not in HEADS:
        raise ConfigError("heads", f"unknown head {name!r}", ", ".join(sorted(HEADS)))
    schema, _ = HEADS[name]
    try:
        return OmegaConf.merge(OmegaConf.structured(schema), node or {})
    except ConfigKeyError as error:
        allowed = ", ".join(schema.__dataclass_fields__)
        raise ConfigError(f"heads.{name}.{error.key}", "unknown key", allowed) from error
    except ValidationError as error:
        raise ConfigError(f"heads.{name}.{error.key}", error.msg.splitlines()[0]) from error


def validate_heads(heads: DictConfig | dict) -> None:
    """Check every selected head's name, keys, types and value ranges."""
    for name, node in heads.items():
        typed = _typed(name, node)
        if name == "mhe":
            if typed.power not in MHE_POWERS:
                raise ConfigError(
                    f"heads.{name}.power", f"got {typed.power!r}", ", ".join(MHE_POWERS)
                )
            if typed.target not in ("weights", "embeddings"):
                raise ConfigError(
                    f"heads.{name}.target", f"got {typed.target!r}", "weights, embeddings"
                )


def build_heads(heads: DictConfig | dict, geometry: str) -> list[LossHead]:
    """The heads in selection order, each built from its typed keys (and the run's geometry,
    for the heads that compare points on the sphere)."""
    built = []
    for name, node in heads.items():
        params = OmegaConf.to_container(_typed(name, node))
        head_class = HEADS[name][1]
        if "geometry" in inspect.signature(head_class).parameters:
            params["geometry"] = geometry
        built.append(head_class(name=name, **params))
    return built
