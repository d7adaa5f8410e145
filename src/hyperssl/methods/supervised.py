"""Supervised classification with the same backbones, heads and geometry options.

Runs the supervised experiments of the MHE (``heads=[mhe]``), HCR (``heads=[hcr,nt_xent]`` with
``method.use_projector=true``) and spherization (``method.classifier=spheric``) papers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import require
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.projector import ProjectorConfig, build_projector
from hyperssl.layers.spherization import SphericLinear, SpherizationConfig
from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import register_method

CLASSIFIERS = ("linear", "spheric")


@dataclass
class SupervisedConfig(MethodConfig):
    """classifier: linear, or spheric (the spherization layer + a bias-free linear, Kim & Kim
    2022). use_projector adds a projection head (z) for HCR and contrastive heads."""

    classifier: str = "linear"
    spherization: SpherizationConfig = field(default_factory=SpherizationConfig)
    label_smoothing: float = 0.0
    use_projector: bool = False
    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(512, 128))

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(
            self.classifier in CLASSIFIERS,
            f"{key}.classifier",
            self.classifier,
            ", ".join(CLASSIFIERS),
        )
        self.spherization.validate(cfg, f"{key}.spherization")


@register_method("supervised", SupervisedConfig)
class Supervised(BaseMethod):
    """Backbone -> classifier (linear, or a SphericLinear read through angles only) with
    cross-entropy; an optional projection head gives z for HCR and contrastive heads."""

    online_probe: ClassVar[bool] = False
    min_views: ClassVar[int] = 1
    regularized_layers: ClassVar[tuple[str, ...]] = ("backbone", "classifier")

    def build_classifier(self) -> nn.Module:
        method = self.cfg.method
        if method.classifier == "spheric":
            sph = method.spherization
            return SphericLinear(
                self.num_features,
                self.num_classes,
                scaling=sph.scaling,
                radius=sph.radius,
                lrable=sph.lrable,
                delta=sph.delta,
            )
        return super().build_classifier()

    def build(self) -> None:
        method = self.cfg.method
        self.produces = frozenset(
            {"feats", "logits", "labels", "model"} | ({"z"} if method.use_projector else set())
        )
        if method.use_projector:
            self.projector: nn.Module = build_projector(self.num_features, method.projector)

    def objective(self) -> LossHead:
        return self.objective_head("cross_entropy", label_smoothing=self.cfg.method.label_smoothing)

    def classify(self, feats: Tensor) -> Tensor:
        return self.classifier(feats)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [self.projector(f) for f in feats] if self.cfg.method.use_projector else []
        return StepOutput(
            labels=labels, feats=feats, z=z, logits=self.classify(torch.cat(feats)), model=self
        )
