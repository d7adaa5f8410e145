"""Supervised classification with the same backbones, heads and geometry options.

Runs the supervised experiments of the MHE (``heads=[mhe]``), HCR (``heads=[hcr,nt_xent]`` with
``method.use_projector=true``) and spherization (``method.classifier=spheric``) papers, and the
angular-margin classifiers of face recognition (``method.classifier=sphereface|cosface|arcface``;
SphereFace+ adds ``heads=[mhe] heads.mhe.layers=[classifier]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import require
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.angular_margin import (
    ANGULAR_MARGIN_CLASSIFIERS,
    AngularMarginClassifier,
    ArcFaceConfig,
    CosFaceConfig,
    SphereFaceConfig,
)
from hyperssl.layers.projector import ProjectorConfig, build_projector
from hyperssl.layers.spherization import SphericLinear, SpherizationConfig
from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import register_method

CLASSIFIERS = ("linear", "spheric", *ANGULAR_MARGIN_CLASSIFIERS)


@dataclass
class SupervisedConfig(MethodConfig):
    """classifier: linear, spheric (the spherization layer + a bias-free linear, Kim & Kim
    2022), or an angular-margin classifier, sphereface, cosface or arcface, each with its block
    of keys (scale, margin). use_projector adds a projection head (z) for HCR and contrastive
    heads."""

    classifier: str = "linear"
    spherization: SpherizationConfig = field(default_factory=SpherizationConfig)
    sphereface: SphereFaceConfig = field(default_factory=SphereFaceConfig)
    cosface: CosFaceConfig = field(default_factory=CosFaceConfig)
    arcface: ArcFaceConfig = field(default_factory=ArcFaceConfig)
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
        for name in ANGULAR_MARGIN_CLASSIFIERS:
            getattr(self, name).validate(cfg, f"{key}.{name}")


@register_method("supervised", SupervisedConfig)
class Supervised(BaseMethod):
    """Backbone -> classifier (linear, a SphericLinear read through angles only, or an
    angular-margin classifier given the labels in training) with cross-entropy; an optional
    projection head gives z for HCR and contrastive heads."""

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
        if method.classifier in ANGULAR_MARGIN_CLASSIFIERS:
            layer = ANGULAR_MARGIN_CLASSIFIERS[method.classifier]
            return layer(self.num_features, self.num_classes, **method[method.classifier])
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

    def classify(self, feats: Tensor, labels: Tensor | None = None) -> Tensor:
        """Class logits; ``labels`` (training) give an angular-margin classifier its margin."""
        if isinstance(self.classifier, AngularMarginClassifier):
            return self.classifier(feats, labels)
        return self.classifier(feats)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [self.projector(f) for f in feats] if self.cfg.method.use_projector else []
        logits = self.classify(torch.cat(feats), labels.repeat(len(feats)))
        return StepOutput(labels=labels, feats=feats, z=z, logits=logits, model=self)
