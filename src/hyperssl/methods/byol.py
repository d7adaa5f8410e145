"""BYOL (Grill et al. NeurIPS 2020): predict the momentum encoder's projection of another view."""

from __future__ import annotations

from typing import ClassVar

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.heads import BYOLHead, LossHead, StepOutput
from hyperssl.layers.mlp import mlp
from hyperssl.layers.projector import build_projector
from hyperssl.methods.momentum import MomentumMethod


class BYOL(MomentumMethod):
    """Online backbone -> projector -> predictor gives p; the momentum backbone + projector give
    the targets k; the loss is byol_loss(p_i, k_j) summed over ordered view pairs i != j."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "p", "k", "labels", "model"})

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        output_dim = cfg.method.projector.output_dim
        self.predictor: nn.Module = mlp(output_dim, cfg.method.predictor.hidden_dim, output_dim, 2)

    def build_projector(self) -> nn.Module:
        return build_projector(self.num_features, self.cfg.method.projector)

    def objective(self) -> LossHead:
        return BYOLHead(self.geometry)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        return self.embed_with_predictor(self.predictor, views, labels)
