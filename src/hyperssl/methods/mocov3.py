"""MoCo v3 (Chen et al., ICCV 2021): in-batch keys from a momentum encoder, a predictor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from omegaconf import DictConfig

from hyperssl.errors import require
from hyperssl.heads import LossHead
from hyperssl.layers.projector import PredictorConfig, ProjectorConfig
from hyperssl.methods.momentum import MomentumMethod, PredictorMethodConfig
from hyperssl.methods.registry import register_method


@dataclass
class MoCoV3Config(PredictorMethodConfig):
    """MoCo v3's heads for ResNets (Chen et al. 2021, official code; solo-learn's too): a
    2-layer projector 4096-256 ending in an affine-free BatchNorm, and a 2-layer predictor 4096
    without one whose output layer has no bias (for ViTs the paper uses a 3-layer projector and a
    BatchNorm at the predictor's output: ``projector.num_layers=3
    predictor.last_batch_norm=true``); momentum 0.99 -> 1.0; temperature 0.2 (the loss is scaled
    by 2 x temperature)."""

    temperature: float = 0.2
    projector: ProjectorConfig = field(
        default_factory=lambda: ProjectorConfig(4096, 256, 2, last_batch_norm=True)
    )
    predictor: PredictorConfig = field(
        default_factory=lambda: PredictorConfig(4096, last_bias=False)
    )

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(self.temperature > 0, f"{key}.temperature", self.temperature, "> 0")


@register_method("mocov3", MoCoV3Config)
class MoCoV3(MomentumMethod):
    """Online backbone -> projector -> predictor gives q; the momentum backbone + projector give
    the keys of the same batch; loss 2τ(L(p1, k2) + L(p2, k1))."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "p", "k", "labels", "model"})

    def objective(self) -> LossHead:
        return self.objective_head("info_nce", temperature=self.cfg.method.temperature)
