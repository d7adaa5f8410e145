"""BYOL (Grill et al. NeurIPS 2020): predict the momentum encoder's projection of another view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from hyperssl.heads import LossHead
from hyperssl.layers.projector import ProjectorConfig
from hyperssl.methods.momentum import MomentumMethod, PredictorMethodConfig
from hyperssl.methods.registry import register_method


@dataclass
class BYOLConfig(PredictorMethodConfig):
    """Projector 4096-256 and predictor 4096 with BatchNorm; momentum 0.99 -> 1.0."""

    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(4096, 256))


@register_method("byol", BYOLConfig)
class BYOL(MomentumMethod):
    """Online backbone -> projector -> predictor gives p; the momentum backbone + projector give
    the targets k; the loss is byol_loss(p_i, k_j) summed over ordered view pairs i != j."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "p", "k", "labels", "model"})

    def objective(self) -> LossHead:
        return self.objective_head("byol")
