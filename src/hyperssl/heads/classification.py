"""Supervised objective as a head."""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput


class CrossEntropyHead(LossHead):
    """Cross-entropy with label smoothing (Szegedy et al. 2016) of every view's logits:

        loss = -(1/N) Σ_n Σ_c q_nc log softmax(logits_n)_c,  q = (1 - ε) onehot + ε / C

    logits: [V·B, C] (views stacked), labels: [B] (repeated per view; -1 is ignored).
    """

    inputs: ClassVar[tuple[str, ...]] = ("logits",)

    def __init__(self, label_smoothing: float = 0.0, weight: float = 1.0) -> None:
        super().__init__("cross_entropy", weight)
        self.label_smoothing = label_smoothing

    def forward(self, out: StepOutput) -> Tensor:
        labels = out.labels.repeat(len(out.logits) // len(out.labels))
        return F.cross_entropy(
            out.logits.float(), labels, label_smoothing=self.label_smoothing, ignore_index=-1
        )
