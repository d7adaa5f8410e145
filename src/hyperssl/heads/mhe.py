"""Minimum hyperspherical energy (Liu et al., NeurIPS 2018) as a head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses import MHE_POWERS, mhe_embedding_energy
from hyperssl.regularizers import MHE

MHE_TARGETS = ("weights", "embeddings")


@dataclass
class MHEHeadConfig(HeadConfig):
    """power: "0", "1", "2" (Euclidean) or a0, a1, a2 (angular); half_space adds the negated
    neurons. hidden_weight / final_weight: None takes the reference code's coefficients for the
    power. layers: module-name prefixes (None: the method's). target: the layers' neurons
    (weights) or the batch's projections z (embeddings)."""

    power: str = "0"
    half_space: bool = False
    hidden_weight: float | None = None  # None: the paper code's 1 (0.1 for a1, a2)
    final_weight: float | None = None  # None: the paper code's 10 (1 for a1, a2)
    layers: list[str] | None = None  # None: the method's (backbone+projector, or +classifier)
    final_layer: str | None = None
    target: str = "weights"

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.power in MHE_POWERS, f"{key}.power", self.power, ", ".join(MHE_POWERS))
        require(self.target in MHE_TARGETS, f"{key}.target", self.target, ", ".join(MHE_TARGETS))


@register_head("mhe", MHEHeadConfig)
class MHEHead(LossHead):
    """Minimum hyperspherical energy (Liu et al. 2018, Eq. 1): the mean over pairs of
    normalised neurons of f_s(||ŵ_i - ŵ_j||) (f_0 = -log d², f_s = d^(-s)), or of the normalised
    angle for the angular powers a0-a2 (:mod:`hyperssl.losses.mhe`).

    ``target="weights"``: :class:`hyperssl.regularizers.MHE` over the conv/linear layers under
    the module names in ``layers`` (None: the method's ``regularized_layers``): hidden layers
    x ``hidden_weight``, the final layer (the last linear, or ``final_layer``) x
    ``final_weight``, never half-space; None takes the paper code's coefficients for ``power``.
    ``target="embeddings"``: the energy of the step's embeddings z, each row normalised onto the
    sphere (:func:`hyperssl.losses.mhe_embedding_energy`). Either way in the losses' precision:
    float32, float64 for float64 weights or z.
    """

    inputs: ClassVar[tuple[str, ...]] = ("model",)

    def __init__(self, name: str, config: MHEHeadConfig, geometry: Any = "cosine") -> None:
        super().__init__(name, config, geometry)
        # A plain list, not a submodule: the regulariser refers to the model that owns this head.
        self._regularizer: list[MHE] = []

    def _weights_energy(self, out: StepOutput) -> Tensor:
        if not self._regularizer:
            config = self.config
            self._regularizer.append(
                MHE(
                    out.model,
                    power=config.power,
                    half_space=config.half_space,
                    weight=config.hidden_weight,
                    final_weight=config.final_weight,
                    layers=tuple(config.layers or out.model.regularized_layers),
                    final_layer=config.final_layer,
                )
            )
        return self._regularizer[0]()

    def forward(self, out: StepOutput) -> Tensor:
        if self.config.target == "embeddings":
            power = self.config.power
            return torch.stack([mhe_embedding_energy(view, power) for view in out.z]).mean()
        return self._weights_energy(out)
