"""The projector and predictor MLPs of a method, each built from its schema (``method.projector``,
``method.predictor``), written once for every method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig
from torch import nn

from hyperssl.errors import require
from hyperssl.layers.mlp import mlp
from hyperssl.layers.spherization import SphericLinear
from hyperssl.registry import PartConfig


@dataclass
class ProjectorConfig(PartConfig):
    """The MLP from backbone features to the embedding z compared on the sphere."""

    hidden_dim: int = 2048
    output_dim: int = 128
    num_layers: int = 2
    # False: hidden blocks Linear(bias)-ReLU, no BatchNorm (solo-learn's SimCLR, MoCo v2+)
    hidden_batch_norm: bool = True
    last_batch_norm: bool = False  # a BatchNorm on the output (MoCo v3, NNCLR)
    last_batch_norm_affine: bool = False  # its learnt scale and shift (NNCLR's; MoCo v3 has none)
    spherize: bool = False  # last layer = Spherization + bias-free linear (Kim & Kim, 2022)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.hidden_dim >= 1, f"{key}.hidden_dim", self.hidden_dim, ">= 1")
        require(self.output_dim >= 1, f"{key}.output_dim", self.output_dim, ">= 1")
        require(self.num_layers >= 1, f"{key}.num_layers", self.num_layers, ">= 1")


@dataclass
class PredictorConfig(PartConfig):
    """The 2-layer MLP on z that predicts the target branch (BYOL, MoCo v3)."""

    hidden_dim: int = 4096
    last_batch_norm: bool = False
    last_bias: bool = True  # False: no bias on the output layer (MoCo v3)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.hidden_dim >= 1, f"{key}.hidden_dim", self.hidden_dim, ">= 1")


def build_projector(in_dim: int, cfg: Any) -> nn.Module:
    """MLP ``in_dim -> hidden_dim -> ... -> output_dim``, its hidden blocks with or without
    BatchNorm (``hidden_batch_norm``); with ``spherize`` its last linear layer becomes a
    SphericLinear (output read through angles only, Kim & Kim 2022)."""
    last_layer = None
    if cfg.spherize:
        last_in = cfg.hidden_dim if cfg.num_layers > 1 else in_dim
        last_layer = SphericLinear(last_in, cfg.output_dim)
    return mlp(
        in_dim,
        cfg.hidden_dim,
        cfg.output_dim,
        cfg.num_layers,
        last_batch_norm=cfg.last_batch_norm,
        last_batch_norm_affine=cfg.last_batch_norm_affine,
        last_layer=last_layer,
        hidden_batch_norm=cfg.hidden_batch_norm,
    )


def build_predictor(dim: int, cfg: Any) -> nn.Module:
    """MLP ``dim -> hidden_dim -> dim`` (Linear-BN-ReLU, Linear)."""
    return mlp(
        dim, cfg.hidden_dim, dim, 2, last_batch_norm=cfg.last_batch_norm, last_bias=cfg.last_bias
    )
