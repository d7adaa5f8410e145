"""SwAV's objective as a head: Sinkhorn-Knopp codes of the large crops, predicted by the other
views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses.swav import sinkhorn_knopp, swav_loss


@dataclass
class SwAVHeadConfig(HeadConfig):
    """τ of the prediction softmax, ε and the iterations of Sinkhorn-Knopp (solo-learn's
    defaults: 0.1, 0.05, 3)."""

    temperature: float = 0.1
    sk_epsilon: float = 0.05
    sk_iters: int = 3

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.temperature > 0, f"{key}.temperature", self.temperature, "> 0")
        require(self.sk_epsilon > 0, f"{key}.sk_epsilon", self.sk_epsilon, "> 0")
        require(self.sk_iters >= 1, f"{key}.sk_iters", self.sk_iters, ">= 1")


@register_head("swav", SwAVHeadConfig)
class SwAVHead(LossHead):
    """The swapped prediction (:func:`hyperssl.losses.swav.swav_loss`) of codes computed by
    Sinkhorn-Knopp (:func:`hyperssl.losses.swav.sinkhorn_knopp`) from the large crops' scores.

    Reads ``embeddings["prototype_scores"]`` (the similarity of each view's z to each prototype
    in the run's geometry, [B, K] per view, large crops first) and, when the method uses its
    queue, ``state["queue_scores"]`` ([L, Q, K]: the prototypes' similarity to the queued z of
    each of the L large crops), whose rows go into Sinkhorn-Knopp before the batch's and whose
    codes are dropped.

    The head sees the output gathered over processes, so the sums of Sinkhorn-Knopp run over the
    global batch (and the queue, which holds gathered z): what solo-learn obtains with its
    all-reduces, with no collective call here.
    """

    inputs: ClassVar[tuple[str, ...]] = ("prototype_scores",)

    def forward(self, out: StepOutput) -> Tensor:
        scores = out.embeddings["prototype_scores"]
        queue_scores = out.state.get("queue_scores")
        config = self.config
        codes = []
        for i, large in enumerate(out.large(scores)):
            batch = large.shape[0]
            samples = large.detach()
            if queue_scores is not None:
                samples = torch.cat([queue_scores[i].to(samples.dtype), samples])
            q = sinkhorn_knopp(samples, config.sk_epsilon, config.sk_iters)
            codes.append(q[-batch:])
        return swav_loss(scores, codes, config.temperature)
