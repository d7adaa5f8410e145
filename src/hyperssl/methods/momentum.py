"""Momentum (EMA) encoders: the update rule, its τ schedule, and the base class using them."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import require
from hyperssl.heads import StepOutput
from hyperssl.layers.projector import PredictorConfig, build_predictor, build_projector
from hyperssl.methods.base import BaseMethod, MethodConfig, forward_views
from hyperssl.registry import PartConfig


@dataclass
class MomentumConfig(PartConfig):
    """EMA of the momentum encoders: τ rises from ``base_tau`` to ``final_tau`` on a cosine."""

    base_tau: float = 0.99
    final_tau: float = 1.0

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(
            0 <= self.base_tau <= self.final_tau <= 1,
            key,
            f"base_tau={self.base_tau}, final_tau={self.final_tau}",
            "0 <= base_tau <= final_tau <= 1",
        )


@dataclass
class MomentumMethodConfig(MethodConfig):
    """Keys of the methods with momentum encoders."""

    momentum: MomentumConfig = field(default_factory=MomentumConfig)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.momentum.validate(cfg, f"{key}.momentum")


@dataclass
class PredictorMethodConfig(MomentumMethodConfig):
    """Keys of the momentum methods with a predictor on the online branch (BYOL, MoCo v3)."""

    predictor: PredictorConfig = field(default_factory=PredictorConfig)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.predictor.validate(cfg, f"{key}.predictor")


def cosine_tau(step: int, total_steps: int, base_tau: float, final_tau: float) -> float:
    """τ after ``step`` of ``total_steps`` optimizer steps (BYOL, Grill et al. 2020, Sec. 3.2):

        τ_k = final - (final - base) (cos(π k / K) + 1) / 2

    rising from ``base_tau`` at k = 0 to ``final_tau`` at k = K.
    """
    progress = min(step / max(total_steps, 1), 1.0)
    return final_tau - (final_tau - base_tau) * (math.cos(math.pi * progress) + 1) / 2


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    """target ← τ · target + (1 - τ) · online, for every parameter (one fused foreach lerp).

    Buffers (BatchNorm statistics) are not averaged: the target network keeps its own, updated by
    its forward passes in training mode, as in BYOL and MoCo.
    """
    target_params = [p.data for p in target.parameters()]
    online_params = [p.data for p in online.parameters()]
    torch._foreach_lerp_(target_params, online_params, 1.0 - tau)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` that receives no gradient: the momentum encoder's starting point."""
    copied = copy.deepcopy(module)
    copied.requires_grad_(False)
    return copied


class MomentumMethod(BaseMethod):
    """A method with momentum copies of its backbone and projector, updated after every optimizer
    step, and (``uses_predictor``) a predictor on the online branch.

    ``build`` makes the projector (:func:`hyperssl.layers.projector.build_projector`), the
    predictor and the momentum copies; ``momentum_pairs`` lists the (online, copy) pairs. τ
    follows :func:`cosine_tau` over the run's optimizer steps, the update after step k (0-based)
    using τ_k, as BYOL's schedule; it is a function of the global step, so a resumed run
    continues with the τ an uninterrupted one would have, and the buffer ``tau`` (saved in
    checkpoints) always holds the value used by the last update.
    """

    uses_predictor: ClassVar[bool] = True  # its schema is then a PredictorMethodConfig

    def build_projector(self) -> nn.Module:
        """The online projector, copied into the momentum branch (DINO's head replaces it)."""
        return build_projector(self.num_features, self.cfg.method.projector)

    def build(self) -> None:
        method = self.cfg.method
        self.projector: nn.Module = self.build_projector()
        if self.uses_predictor:
            self.predictor: nn.Module = build_predictor(
                method.projector.output_dim, method.predictor
            )
        self.momentum_backbone = frozen_copy(self.backbone)
        self.momentum_projector = frozen_copy(self.projector)
        self.register_buffer("tau", torch.tensor(float(method.momentum.base_tau)))

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(online, momentum copy) pairs updated after every optimizer step."""
        return [(self.backbone, self.momentum_backbone), (self.projector, self.momentum_projector)]

    def learnable_modules(self) -> dict[str, nn.Module]:
        return {
            name: module
            for name, module in super().learnable_modules().items()
            if not name.startswith("momentum_")
        }

    @torch.no_grad()
    def momentum_keys(self, views: list[Tensor]) -> list[Tensor]:
        """Momentum backbone + projector outputs per view (no gradient), the backbone's passes
        grouped as the online encoder's (:meth:`encode`)."""
        in_one_batch = self.cfg.method.views_in_one_batch
        feats = forward_views(self.momentum_backbone, views, in_one_batch)
        return [self.momentum_projector(f) for f in feats]

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        """z = projector(features), p = predictor(z) (with a predictor), k = the momentum
        encoder's outputs."""
        feats = self.encode(views)
        z = [self.projector(f) for f in feats]
        p = [self.predictor(v) for v in z] if self.uses_predictor else []
        return StepOutput(
            labels=labels, feats=feats, z=z, p=p, k=self.momentum_keys(views), model=self
        )

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        # Called once per real optimizer step (not per micro-batch under gradient accumulation).
        super().optimizer_step(*args, **kwargs)
        momentum = self.cfg.method.momentum
        step = self.trainer.global_step  # steps completed before this one
        tau = cosine_tau(
            step,
            int(self.trainer.estimated_stepping_batches),
            momentum.base_tau,
            momentum.final_tau,
        )
        for online, target in self.momentum_pairs():
            momentum_update(online, target, tau)
        self.tau.fill_(tau)
        if self.logs_this_step:
            self.log("train/tau", tau, on_step=True, on_epoch=False)
