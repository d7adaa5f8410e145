"""NT-Xent as a head: SimCLR's objective, and an extra contrastive term for any method that
produces projections (``heads=[nt_xent]``, e.g. beside a supervised classifier, as HCR assumes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import LossHead, StepOutput, TemperatureHeadConfig
from hyperssl.heads.registry import register_head
from hyperssl.losses import nt_xent_views
from hyperssl.losses.contrastive import NT_XENT_POSITIVES


@dataclass
class NTXentHeadConfig(TemperatureHeadConfig):
    """The temperature τ of NT-Xent's logits, and how an anchor's positives combine when a step
    has more than two views (``positives``, see :func:`hyperssl.losses.nt_xent_views`)."""

    positives: str = "log_sum_prob"

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(
            self.positives in NT_XENT_POSITIVES,
            f"{key}.positives",
            self.positives,
            ", ".join(NT_XENT_POSITIVES),
        )


@register_head("nt_xent", NTXentHeadConfig)
class NTXentHead(LossHead):
    """NT-Xent over every view of the step with the run's geometry (Chen et al. 2020, Eq. 1;
    :func:`hyperssl.losses.nt_xent_views`)."""

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        return nt_xent_views(
            out.z, self.config.temperature, self.geometry, positives=self.config.positives
        )
