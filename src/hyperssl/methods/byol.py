"""BYOL (Grill et al. NeurIPS 2020): predict the momentum encoder's projection of another view."""

from __future__ import annotations

from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.heads import BYOLHead, LossHead, StepOutput
from hyperssl.layers.mlp import mlp
from hyperssl.layers.projector import build_projector
from hyperssl.methods.momentum import MomentumMethod, frozen_copy


class BYOL(MomentumMethod):
    """Online backbone -> projector -> predictor gives p; the momentum backbone + projector give
    the targets k; the loss is byol_loss(p_i, k_j) summed over ordered view pairs i != j."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "p", "k", "labels", "model"})

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        projector, predictor = cfg.method.projector, cfg.method.predictor
        self.projector: nn.Module = build_projector(self.num_features, projector)
        self.predictor: nn.Module = mlp(
            projector.output_dim, predictor.hidden_dim, projector.output_dim, 2
        )
        self.momentum_projector = frozen_copy(self.projector)

    def objective(self) -> LossHead:
        return BYOLHead(self.geometry)

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [*super().momentum_pairs(), (self.projector, self.momentum_projector)]

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [self.projector(f) for f in feats]
        with torch.no_grad():
            keys = [self.momentum_projector(f) for f in self.momentum_encode(views)]
        return StepOutput(
            labels=labels, feats=feats, z=z, p=[self.predictor(v) for v in z], k=keys, model=self
        )
