"""DINO's objective as a head: the student's prototype scores of every view match the centred,
sharpened teacher scores of the other large views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses.dino import dino_loss


@dataclass
class DINOHeadConfig(HeadConfig):
    """τ_s, the student's temperature (the paper's 0.1). The teacher's τ_t follows the method's
    warm-up schedule and is read from the step's state."""

    student_temperature: float = 0.1

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(
            self.student_temperature > 0,
            f"{key}.student_temperature",
            self.student_temperature,
            "> 0",
        )


@register_head("dino", DINOHeadConfig)
class DINOLossHead(LossHead):
    """:func:`hyperssl.losses.dino.dino_loss` of the step (Caron et al. 2021, Eq. 3).

    Reads ``embeddings["student_logits"]`` (every view, [B, K] each), ``embeddings[
    "teacher_logits"]`` (the large crops, [B, K] each), ``state["center"]`` ([K]) and
    ``state["teacher_temperature"]`` (0-dim). The run's geometry acts in the method's last layer
    (:class:`hyperssl.layers.dino_head.PrototypeScores`), not here: the scores are already its
    similarities.
    """

    inputs: ClassVar[tuple[str, ...]] = (
        "student_logits",
        "teacher_logits",
        "center",
        "teacher_temperature",
    )

    def forward(self, out: StepOutput) -> Tensor:
        return dino_loss(
            out.embeddings["student_logits"],
            out.embeddings["teacher_logits"],
            out.state["center"],
            self.config.student_temperature,
            out.state["teacher_temperature"],
        )
