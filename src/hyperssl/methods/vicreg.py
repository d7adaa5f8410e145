"""VICReg (Bardes et al., ICLR 2022): variance, invariance and covariance regularisation of two
views' projections. No negatives, predictor, momentum encoder or stop-gradient."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig

from hyperssl.heads import LossHead
from hyperssl.heads.vicreg import VICRegHeadConfig
from hyperssl.layers.projector import ProjectorConfig
from hyperssl.methods.barlow_twins import RedundancyReductionMethod
from hyperssl.methods.base import MethodConfig
from hyperssl.methods.registry import register_method


@dataclass
class VICRegConfig(MethodConfig):
    """solo-learn's CIFAR recipe (vturrisi/solo-learn@9187ea3, scripts/pretrain/cifar/vicreg.yaml
    and solo/methods/vicreg.py): a 3-layer projector 2048-2048-2048 (Linear-BN-ReLU twice, then
    Linear), λ = μ = 25, ν = 1 (the paper's Sec. 4.1), γ = 1, ε = 1e-4 (see
    :class:`hyperssl.heads.vicreg.VICRegHeadConfig`)."""

    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(2048, 2048, 3))
    lam: float = VICRegHeadConfig.lam
    mu: float = VICRegHeadConfig.mu
    nu: float = VICRegHeadConfig.nu
    gamma: float = VICRegHeadConfig.gamma
    eps: float = VICRegHeadConfig.eps

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.head_config().validate(cfg, key)

    def head_config(self) -> VICRegHeadConfig:
        """The objective's keys as the head's schema."""
        return VICRegHeadConfig(
            lam=self.lam, mu=self.mu, nu=self.nu, gamma=self.gamma, eps=self.eps
        )


@register_method("vicreg", VICRegConfig)
class VICReg(RedundancyReductionMethod):
    """VICReg: the objective pulls the views' projections together (invariance) while a hinge
    keeps each dimension's standard deviation over the (global) batch at least γ (variance) and
    the off-diagonal covariances are pushed to 0 (covariance)
    (:class:`hyperssl.heads.vicreg.VICRegHead`). The three unweighted terms are logged as
    ``train/vicreg_invariance``, ``train/vicreg_variance``, ``train/vicreg_covariance``.
    Euclidean: ``geometry=`` applies only to added heads (see
    :class:`hyperssl.methods.barlow_twins.RedundancyReductionMethod`)."""

    def objective(self) -> LossHead:
        method = self.cfg.method
        return self.objective_head(
            "vicreg",
            lam=method.lam,
            mu=method.mu,
            nu=method.nu,
            gamma=method.gamma,
            eps=method.eps,
        )
