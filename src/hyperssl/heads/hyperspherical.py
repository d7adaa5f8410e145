"""Hyperspherical regularisers as heads: uniformity, alignment+uniformity, MHE, HCR.

Each head reads the embeddings it names in ``inputs`` and returns an unweighted float32 scalar;
the method adds ``weight`` x value to its objective and logs the value as ``train/<name>``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput
from hyperssl.losses import (
    align_loss,
    hcr_loss,
    mhe_embedding_energy,
    uniform_loss,
    uniform_loss_with_queue,
)
from hyperssl.regularizers import MHE


def _normalized(views: list[Tensor]) -> list[Tensor]:
    return [F.normalize(view.float(), dim=1) for view in views]


class UniformityHead(LossHead):
    """Mean over views of ``uniform_loss(z_v, t)`` (Wang & Isola 2020, Eq. 5) on normalised z."""

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def __init__(self, name: str, weight: float = 1.0, t: float = 2.0) -> None:
        super().__init__(name, weight)
        self.t = t

    def forward(self, out: StepOutput) -> Tensor:
        views = _normalized(out.z)
        return torch.stack([uniform_loss(view, self.t) for view in views]).mean()


class AlignUniformHead(LossHead):
    """Wang & Isola's objective: L_align(z1, z2; alpha) + lam * (L_unif(z1; t) + L_unif(z2; t)) / 2.

    With a MoCo queue in the step, each view's uniformity also counts its pairs with the queue
    (the paper's MoCo variant), see :func:`hyperssl.losses.uniform_loss_with_queue`.
    """

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def __init__(
        self, name: str, weight: float = 1.0, alpha: float = 2.0, t: float = 2.0, lam: float = 1.0
    ) -> None:
        super().__init__(name, weight)
        self.alpha, self.t, self.lam = alpha, t, lam

    def forward(self, out: StepOutput) -> Tensor:
        z1, z2 = _normalized(out.z[:2])
        if out.queue is not None:
            uniformity = [uniform_loss_with_queue(z, out.queue, self.t) for z in (z1, z2)]
        else:
            uniformity = [uniform_loss(z, self.t) for z in (z1, z2)]
        return align_loss(z1, z2, self.alpha) + self.lam * (uniformity[0] + uniformity[1]) / 2


class MHEHead(LossHead):
    """Minimum hyperspherical energy (Liu et al. 2018, Eq. 1).

    ``target="weights"``: :class:`hyperssl.regularizers.MHE` over the conv/linear layers under
    the module names in ``layers`` (None: the method's ``regularized_layers``): hidden layers
    x ``hidden_weight``, the final layer (the last linear, or ``final_layer``) x
    ``final_weight``, never half-space; None takes the paper code's coefficients for ``power``.
    ``target="embeddings"``: the energy of the step's embeddings z.
    """

    inputs: ClassVar[tuple[str, ...]] = ("model",)

    def __init__(
        self,
        name: str,
        weight: float = 1.0,
        power: str = "0",
        half_space: bool = False,
        hidden_weight: float | None = None,
        final_weight: float | None = None,
        layers: tuple[str, ...] | None = None,
        final_layer: str | None = None,
        target: str = "weights",
    ) -> None:
        super().__init__(name, weight)
        self.power, self.half_space = power, half_space
        self.hidden_weight, self.final_weight = hidden_weight, final_weight
        self.layers, self.final_layer, self.target = layers, final_layer, target
        # A plain list, not a submodule: the regulariser refers to the model that owns this head.
        self._regularizer: list[MHE] = []

    def _weights_energy(self, out: StepOutput) -> Tensor:
        if not self._regularizer:
            self._regularizer.append(
                MHE(
                    out.model,
                    power=self.power,
                    half_space=self.half_space,
                    weight=self.hidden_weight,
                    final_weight=self.final_weight,
                    layers=self.layers or out.model.regularized_layers,
                    final_layer=self.final_layer,
                )
            )
        return self._regularizer[0]()

    def forward(self, out: StepOutput) -> Tensor:
        if self.target == "embeddings":
            views = _normalized(out.z)
            return torch.stack([mhe_embedding_energy(view, self.power) for view in views]).mean()
        return self._weights_energy(out)


class HCRHead(LossHead):
    """Hyperspherical consistency (Tan et al. 2022): ``hcr_loss(logits, z)`` of the first view
    (the logits of all views are stacked view-major, so the first B rows)."""

    inputs: ClassVar[tuple[str, ...]] = ("logits", "z")

    def forward(self, out: StepOutput) -> Tensor:
        return hcr_loss(out.logits[: len(out.z[0])], out.z[0])
