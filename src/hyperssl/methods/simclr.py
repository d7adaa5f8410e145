"""SimCLR (Chen et al., ICML 2020): NT-Xent between the projections of augmented views."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from hyperssl.heads import LossHead, NTXentHead, StepOutput
from hyperssl.layers.projector import build_projector
from hyperssl.methods.base import BaseMethod


class SimCLR(BaseMethod):
    """Backbone -> projector MLP -> z per view; objective NT-Xent over all views of the batch."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "labels", "model"})

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.projector: nn.Module = build_projector(self.num_features, cfg.method.projector)

    def objective(self) -> LossHead:
        return NTXentHead(temperature=self.cfg.method.temperature, geometry=self.geometry)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        return StepOutput(
            labels=labels, feats=feats, z=[self.projector(f) for f in feats], model=self
        )
