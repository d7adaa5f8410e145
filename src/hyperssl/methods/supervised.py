"""Supervised classification with the same backbones, heads and geometry options.

Runs the supervised experiments of the MHE (``heads=[mhe]``), HCR (``heads=[hcr,nt_xent]`` with
``method.use_projector=true``) and spherization (``method.classifier=spheric``) papers.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.heads import CrossEntropyHead, LossHead, StepOutput
from hyperssl.layers.projector import build_projector
from hyperssl.layers.spherization import SphericLinear
from hyperssl.methods.base import BaseMethod


class Supervised(BaseMethod):
    """Backbone -> classifier (linear, or a SphericLinear read through angles only) with
    cross-entropy; an optional projection head gives z for HCR and contrastive heads."""

    online_probe: ClassVar[bool] = False
    min_views: ClassVar[int] = 1
    regularized_layers: ClassVar[tuple[str, ...]] = ("backbone", "classifier")

    def __init__(self, cfg: DictConfig) -> None:
        method = cfg.method
        self.produces = frozenset(
            {"feats", "logits", "labels", "model"} | ({"z"} if method.use_projector else set())
        )
        super().__init__(cfg)
        if method.classifier == "spheric":
            sph = method.spherization
            self.classifier = SphericLinear(
                self.num_features,
                self.num_classes,
                scaling=sph.scaling,
                radius=sph.radius,
                lrable=sph.lrable,
                delta=sph.delta,
            )
        if method.use_projector:
            self.projector: nn.Module = build_projector(self.num_features, method.projector)

    def objective(self) -> LossHead:
        return CrossEntropyHead(self.cfg.method.label_smoothing)

    def classify(self, feats: Tensor) -> Tensor:
        return self.classifier(feats)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [self.projector(f) for f in feats] if self.cfg.method.use_projector else []
        return StepOutput(
            labels=labels, feats=feats, z=z, logits=self.classify(torch.cat(feats)), model=self
        )
