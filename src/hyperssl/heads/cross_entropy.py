"""The supervised objective as a head: cross-entropy with label smoothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.geometry import to_loss_dtype
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head


@dataclass
class CrossEntropyHeadConfig(HeadConfig):
    label_smoothing: float = 0.0

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(
            0 <= self.label_smoothing < 1,
            f"{key}.label_smoothing",
            self.label_smoothing,
            "0 <= label_smoothing < 1",
        )


@register_head("cross_entropy", CrossEntropyHeadConfig)
class CrossEntropyHead(LossHead):
    """Cross-entropy with label smoothing (Szegedy et al. 2016) of every view's logits:

        loss = -(1/N) Σ_n Σ_c q_nc log softmax(logits_n)_c,  q = (1 - ε) onehot + ε / C

    logits: [V·B, C] (views stacked), labels: [B] (repeated per view; -1 is ignored).
    """

    inputs: ClassVar[tuple[str, ...]] = ("logits",)

    def forward(self, out: StepOutput) -> Tensor:
        labels = out.labels.repeat(len(out.logits) // len(out.labels))
        return F.cross_entropy(
            to_loss_dtype(out.logits),
            labels,
            label_smoothing=self.config.label_smoothing,
            ignore_index=-1,
        )
