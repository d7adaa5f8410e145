"""Decoupled contrastive learning (Yeh et al., ECCV 2022) as heads: DCL (``heads=[dcl]``) and
its weighted form DCLW (``heads=[dclw]``), usable with every method that produces projections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import LossHead, StepOutput, TemperatureHeadConfig
from hyperssl.heads.registry import register_head
from hyperssl.losses import dcl_loss, dclw_loss


@dataclass
class DCLHeadConfig(TemperatureHeadConfig):
    """τ = 0.1, the default of the public implementations (Ramin Nakhli's, lightly's)."""

    temperature: float = 0.1


@dataclass
class DCLWHeadConfig(DCLHeadConfig):
    """τ, and σ = 0.5 (the paper's), the temperature of the von Mises-Fisher weight."""

    sigma: float = 0.5

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(self.sigma > 0, f"{key}.sigma", self.sigma, "> 0")


@register_head("dcl", DCLHeadConfig)
class DCLHead(LossHead):
    """DCL over every view of the step with the run's geometry: NT-Xent without the positive in
    its denominator (Yeh et al. 2022, Eq. 6; :func:`hyperssl.losses.dcl_loss`)."""

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        return dcl_loss(out.z, self.config.temperature, self.geometry)


@register_head("dclw", DCLWHeadConfig)
class DCLWHead(LossHead):
    """DCLW over every view of the step with the run's geometry: DCL with each positive pair
    weighted by 2 - exp(s/σ)/E[exp(s/σ)] (Yeh et al. 2022, Eq. 6 with w;
    :func:`hyperssl.losses.dclw_loss`)."""

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        return dclw_loss(out.z, self.config.temperature, self.config.sigma, self.geometry)
