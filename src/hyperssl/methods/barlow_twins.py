"""Barlow Twins (Zbontar et al., ICML 2021): the cross-correlation of two views' projections
driven to the identity. No negatives, predictor, momentum encoder or stop-gradient."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.heads import LossHead, StepOutput
from hyperssl.heads.barlow_twins import BarlowTwinsHeadConfig
from hyperssl.layers.projector import ProjectorConfig, build_projector
from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import register_method

logger = logging.getLogger(__name__)


class RedundancyReductionMethod(BaseMethod):
    """Backbone -> projector -> z per view, with an objective on batch statistics of the raw
    z (Barlow Twins, VICReg). Those objectives are Euclidean by design: they never normalise z
    onto the sphere, so ``geometry=`` does not change them; it still applies to the heads added
    with ``heads=[...]``. Building one with a geometry other than cosine and no added head logs
    a warning, so that a sweep over geometries does not silently train the same objective twice
    (any added head silences it: heads do not declare whether they read the geometry).
    """

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "labels", "model"})

    def build(self) -> None:
        self.projector: nn.Module = build_projector(self.num_features, self.cfg.method.projector)
        if self.geometry.name != "cosine" and not self.cfg.heads:
            logger.warning(
                "method %s: its objective is Euclidean and does not read geometry=%s, and no "
                "head is added with heads=[...]: this run trains what geometry=cosine trains",
                self.cfg.method.name,
                self.geometry.name,
            )

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        return StepOutput(
            labels=labels, feats=feats, z=[self.projector(f) for f in feats], model=self
        )


@dataclass
class BarlowTwinsConfig(MethodConfig):
    """solo-learn's CIFAR recipe (vturrisi/solo-learn@9187ea3, scripts/pretrain/cifar/barlow.yaml
    and solo/methods/barlow_twins.py): a 3-layer projector 2048-2048-2048 (Linear-BN-ReLU twice,
    then Linear), λ = 0.0051 (the paper's) and ``scale_loss`` = 0.1 (see
    :class:`hyperssl.heads.barlow_twins.BarlowTwinsHeadConfig`)."""

    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(2048, 2048, 3))
    lam: float = BarlowTwinsHeadConfig.lam
    scale_loss: float = BarlowTwinsHeadConfig.scale_loss

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.head_config().validate(cfg, key)

    def head_config(self) -> BarlowTwinsHeadConfig:
        """The objective's keys as the head's schema."""
        return BarlowTwinsHeadConfig(lam=self.lam, scale_loss=self.scale_loss)


@register_method("barlow_twins", BarlowTwinsConfig)
class BarlowTwins(RedundancyReductionMethod):
    """Barlow Twins: the objective drives the cross-correlation matrix of the views' projections,
    standardised over the (global) batch, to the identity
    (:class:`hyperssl.heads.barlow_twins.BarlowTwinsHead`). Euclidean: ``geometry=`` applies only
    to added heads (see :class:`RedundancyReductionMethod`)."""

    def objective(self) -> LossHead:
        method = self.cfg.method
        return self.objective_head("barlow_twins", lam=method.lam, scale_loss=method.scale_loss)
