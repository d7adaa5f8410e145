"""Wang & Isola's alignment + uniformity objective (ICML 2020) as a head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.heads.uniformity import UniformityHeadConfig
from hyperssl.losses import align_loss, uniform_loss, uniform_loss_with_queue


@dataclass
class AlignUniformHeadConfig(UniformityHeadConfig):
    alpha: float = 2.0
    lam: float = 1.0

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(self.alpha > 0, f"{key}.alpha", self.alpha, "> 0")
        require(self.lam >= 0, f"{key}.lam", self.lam, ">= 0")


@register_head("align_uniform", AlignUniformHeadConfig)
class AlignUniformHead(LossHead):
    """L_align(ẑ1, ẑ2; α) + λ (L_unif(ẑ1; t) + L_unif(ẑ2; t)) / 2 (Wang & Isola 2020, Eq. 4-6).

    With a MoCo queue in the step, each view's uniformity also counts its pairs with the queue
    its queries meet as negatives (the paper's MoCo variant,
    :func:`hyperssl.losses.uniform_loss_with_queue`; :meth:`StepOutput.negatives_of`).
    """

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        config = self.config
        z1, z2 = out.z[:2]  # the losses normalise their rows
        if out.queue is not None:
            uniformity = [
                uniform_loss_with_queue(z, out.negatives_of(view), config.t)
                for view, z in enumerate((z1, z2))
            ]
        else:
            uniformity = [uniform_loss(z, config.t) for z in (z1, z2)]
        return align_loss(z1, z2, config.alpha) + config.lam * (uniformity[0] + uniformity[1]) / 2
