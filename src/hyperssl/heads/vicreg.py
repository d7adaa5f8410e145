"""VICReg's objective (Bardes et al., ICLR 2022) as a head."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses.redundancy import vicreg_terms

VICREG_TERMS = ("invariance", "variance", "covariance")


@dataclass
class VICRegHeadConfig(HeadConfig):
    """The weights λ (invariance), μ (variance), ν (covariance) of Eq. 6: 25, 25, 1, the paper's
    (Sec. 4.1) and solo-learn's CIFAR recipe (vturrisi/solo-learn@9187ea3,
    scripts/pretrain/cifar/vicreg.yaml); the variance hinge's target γ = 1 and ε = 1e-4
    (Eq. 1-2)."""

    lam: float = 25.0
    mu: float = 25.0
    nu: float = 1.0
    gamma: float = 1.0
    eps: float = 1e-4

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        for name in ("lam", "mu", "nu"):
            value = getattr(self, name)
            require(value >= 0, f"{key}.{name}", value, ">= 0")
        require(self.gamma > 0, f"{key}.gamma", self.gamma, "> 0")
        require(self.eps > 0, f"{key}.eps", self.eps, "> 0")


@register_head("vicreg", VICRegHeadConfig)
class VICRegHead(LossHead):
    """Mean over unordered view pairs of ℓ(z_i, z_j) = λ s + μ [v_i + v_j] + ν [c_i + c_j]
    (Bardes et al. 2022, Eq. 6; :func:`hyperssl.losses.redundancy.vicreg_loss`); two views, the
    recipe, give Eq. 6 itself (solo-learn takes two views only).

    Reads ``out.z`` only, gathered over processes, so the variances and covariances are over
    the global batch, as the official code's FullGatherLayer and solo-learn's gather make them.
    The last step's three unweighted terms (means over the pairs) stay in ``last_terms``,
    detached, logged as ``train/vicreg_invariance`` etc. Euclidean: the geometry is not read.
    """

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        config = self.config
        pairs = [vicreg_terms(a, b, config.gamma, config.eps) for a, b in combinations(out.z, 2)]
        # [3, pairs] -> each term's mean over the view pairs
        terms = torch.stack([torch.stack(pair) for pair in pairs], dim=1).mean(dim=1)
        self.last_terms = dict(zip(VICREG_TERMS, terms.detach(), strict=True))
        invariance, variance, covariance = terms
        return config.lam * invariance + config.mu * variance + config.nu * covariance
