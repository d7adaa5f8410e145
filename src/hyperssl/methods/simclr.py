"""SimCLR (Chen et al., ICML 2020): NT-Xent between the projections of augmented views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import require
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.projector import build_projector
from hyperssl.losses.contrastive import NT_XENT_POSITIVES
from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import register_method


@dataclass
class SimCLRConfig(MethodConfig):
    """solo-learn's CIFAR recipe: temperature 0.2, projector 2048-128; with more than two views
    the positives of an anchor combine as in solo-learn (``positives``, see
    :func:`hyperssl.losses.nt_xent_views`)."""

    temperature: float = 0.2
    positives: str = "log_sum_prob"

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(self.temperature > 0, f"{key}.temperature", self.temperature, "> 0")
        require(
            self.positives in NT_XENT_POSITIVES,
            f"{key}.positives",
            self.positives,
            ", ".join(NT_XENT_POSITIVES),
        )


@register_method("simclr", SimCLRConfig)
class SimCLR(BaseMethod):
    """Backbone -> projector MLP -> z per view; objective NT-Xent over all views of the batch."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "labels", "model"})
    multi_crop: ClassVar[bool] = True  # every view in NT-Xent (SwAV paper, Table 3)

    def build(self) -> None:
        self.projector: nn.Module = build_projector(self.num_features, self.cfg.method.projector)

    def objective(self) -> LossHead:
        method = self.cfg.method
        return self.objective_head(
            "nt_xent", temperature=method.temperature, positives=method.positives
        )

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        return StepOutput(
            labels=labels, feats=feats, z=[self.projector(f) for f in feats], model=self
        )
