"""SimSiam (Chen & He, CVPR 2021): a predictor and a stop-gradient, no negatives, no momentum."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.projector import (
    PredictorConfig,
    ProjectorConfig,
    build_predictor,
    build_projector,
)
from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import register_method


@dataclass
class SimSiamConfig(MethodConfig):
    """solo-learn's CIFAR recipe: a 3-layer projector 2048-2048 ending in an affine-free
    BatchNorm and a 2-layer bottleneck predictor 2048-512-2048 whose learning rate is fixed
    (the paper's Sec. 4.4 and Table 1: a scheduled predictor lr trains worse)."""

    projector: ProjectorConfig = field(
        default_factory=lambda: ProjectorConfig(2048, 2048, 3, last_batch_norm=True)
    )
    predictor: PredictorConfig = field(default_factory=lambda: PredictorConfig(512))

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.predictor.validate(cfg, f"{key}.predictor")


@register_method("simsiam", SimSiamConfig)
class SimSiam(BaseMethod):
    """Backbone -> projector gives z, predictor(z) gives p, per view; the objective regresses
    each p onto the other views' z, which carry no gradient."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "p", "labels", "model"})

    def build(self) -> None:
        method = self.cfg.method
        self.projector: nn.Module = build_projector(self.num_features, method.projector)
        self.predictor: nn.Module = build_predictor(method.projector.output_dim, method.predictor)

    def objective(self) -> LossHead:
        return self.objective_head("simsiam")

    def learnable_modules(self) -> dict[str, nn.Module]:
        modules = super().learnable_modules()
        del modules["predictor"]
        return modules

    def learnable_params(self) -> list[dict[str, Any]]:
        """The base groups and the predictor's, kept at its initial lr (``static_lr``)."""
        return [
            *super().learnable_params(),
            *self.module_groups("predictor", self.predictor, static_lr=True),
        ]

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [self.projector(f) for f in feats]
        return StepOutput(
            labels=labels, feats=feats, z=z, p=[self.predictor(v) for v in z], model=self
        )
