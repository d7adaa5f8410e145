"""Angular-margin classifiers of face recognition: SphereFace, CosFace and ArcFace.

Each is a bias-free linear classifier read through angles only: with the features x and the class
weights w_j both L2-normalised, cos θ_j = x̂·ŵ_j, and the logits are

    f_j = s cos θ_j                        for every class j ≠ y (and every class at evaluation)
    f_y = s ψ(θ_y)                         for the labelled class y, in training only

where ψ(θ) <= cos θ puts a margin between the classes: the cross-entropy of these logits is the
paper's loss. Only ψ differs (SphereFace also reads s = ||x|| unless given a scale, and anneals
its target logit: see :class:`SphereFace`):

    SphereFace (Liu et al. CVPR 2017, A-Softmax):  ψ(θ) = (-1)^k cos(mθ) - 2k, θ ∈ [kπ/m, (k+1)π/m]
    CosFace    (Wang et al. CVPR 2018, LMCL Eq. 4): ψ(θ) = cos θ - m
    ArcFace    (Deng et al. CVPR 2019, Eq. 3):      ψ(θ) = cos(θ + m)

A label of -1 (unlabelled) gets no margin; without labels, or in eval mode, the logits are
s cos θ_j for every class, so validation and prediction never see a margin. The logits are
computed in float32 with autocast off (float64 for float64 features or weights).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import require
from hyperssl.geometry import loss_dtype, no_autocast, safe_arccos, to_loss_dtype
from hyperssl.registry import PartConfig


@dataclass
class SphereFaceConfig(PartConfig):
    """SphereFace (A-Softmax): the integer angular margin m (the paper's 4), the scale (None: the
    feature norm ||x||, as the paper; a number s: OpenSphere's normalised features), and the
    annealing of the reference Caffe code, λ = max(lambda_min, lambda_base (1 + lambda_gamma
    t)^(-lambda_power)) at training step t."""

    scale: float | None = None
    margin: int = 4
    lambda_base: float = 1000.0
    lambda_gamma: float = 0.12
    lambda_power: float = 1.0
    lambda_min: float = 5.0

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        _check_scale(self.scale, f"{key}.scale", optional=True)
        require(self.margin >= 1, f"{key}.margin", self.margin, "an integer >= 1 (1: no margin)")
        for name in ("lambda_base", "lambda_gamma", "lambda_power", "lambda_min"):
            value = getattr(self, name)
            require(value >= 0, f"{key}.{name}", value, ">= 0")


@dataclass
class CosFaceConfig(PartConfig):
    """CosFace (LMCL): scale s and additive cosine margin m, the paper's 64 and 0.35."""

    scale: float = 64.0
    margin: float = 0.35

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        _check_scale(self.scale, f"{key}.scale")
        # Beyond 2 the target's cos θ - m < -1 can never beat another class.
        require(0 <= self.margin < 2, f"{key}.margin", self.margin, "0 <= margin < 2")


@dataclass
class ArcFaceConfig(PartConfig):
    """ArcFace: scale s and additive angular margin m (radians), the paper's 64 and 0.5."""

    scale: float = 64.0
    margin: float = 0.5

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        _check_scale(self.scale, f"{key}.scale")
        require(0 <= self.margin < math.pi, f"{key}.margin", self.margin, "0 <= margin < π")


def _check_scale(scale: float | None, key: str, optional: bool = False) -> None:
    ok = (scale is None and optional) or (scale is not None and scale > 0)
    require(ok, key, scale, "> 0, or null for the feature norm" if optional else "> 0")


class AngularMarginClassifier(nn.Module, abc.ABC):
    """Bias-free classifier on normalised features and weights with a margin on the target logit.

    The class weights live in a bias-free ``nn.Linear`` (``self.linear``, whose forward is never
    called) so that what looks for linear layers finds them: MHE's layer selection
    (:class:`hyperssl.regularizers.MHE`, e.g. SphereFace+'s ``heads.mhe.layers=[classifier]``).

    x: [B, in_features], labels: [B] class indices or -1 (optional) -> logits [B, out_features],
    float32 (float64 for float64 x or weights).
    """

    def __init__(self, in_features: int, out_features: int, scale: float | None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.scale = scale

    @property
    def weight(self) -> Tensor:
        """The class weights [out_features, in_features] (unnormalised)."""
        return self.linear.weight

    @abc.abstractmethod
    def target_cosine(self, cos: Tensor) -> Tensor:
        """ψ(θ_y) of the target classes from their cos θ_y [B, 1]; called once per training
        forward with labels."""

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        with no_autocast(x):
            dtype = loss_dtype(x, self.weight)
            features = to_loss_dtype(x, dtype)
            weight = to_loss_dtype(self.weight, dtype)
            cos = F.normalize(features, dim=1) @ F.normalize(weight, dim=1).T
            # A-Softmax without a scale reads the feature norm: ||x|| cos θ = x·ŵ.
            radius = features.norm(dim=1, keepdim=True) if self.scale is None else self.scale
            logits = radius * cos
            if labels is None or not self.training:
                return logits
            # Rows labelled -1 gather class 0 and keep its logit: no host sync to drop them.
            target = labels.clamp_min(0)[:, None]
            margin_logit = radius * self.target_cosine(cos.gather(1, target))
            kept = torch.where(labels[:, None] >= 0, margin_logit, logits.gather(1, target))
            return logits.scatter(1, target, kept)

    def extra_repr(self) -> str:
        scale = "||x||" if self.scale is None else f"{self.scale:g}"
        return f"{self.linear.in_features} -> {self.linear.out_features}, scale={scale}"


class SphereFace(AngularMarginClassifier):
    r"""A-Softmax (Liu et al., "SphereFace: Deep Hypersphere Embedding for Face Recognition",
    CVPR 2017): the target logit ||x|| ψ(θ_y) with the multiplicative angular margin

        ψ(θ) = (-1)^k cos(mθ) - 2k,   θ ∈ [kπ/m, (k+1)π/m],  k ∈ {0, ..., m-1},  integer m

    (monotonically decreasing over [0, π], so the target's angle can always be reduced).
    Training follows the reference Caffe code (wy1iu/sphereface, ``MarginInnerProduct``), whose
    annealing the paper's numbers need: the target logit is mixed with the plain one,

        f_y = (λ ||x|| cos θ_y + ||x|| ψ(θ_y)) / (1 + λ),
        λ = max(lambda_min, lambda_base (1 + lambda_gamma t)^(-lambda_power))

    at the t-th training forward (t = 1, 2, ...; the code's defaults 1000, 0.12, 1, 5), so it
    starts as plain softmax and the margin takes over. t is the buffer ``iteration``, kept in
    checkpoints; it advances once per training forward with labels. As in the code, cos(mθ) is
    the Chebyshev polynomial T_m(cos θ) and k counts the thresholds cos(jπ/m) at or above
    cos θ, so no arccos is taken and the gradient is finite everywhere, θ = 0 and π included.

    Differences from the code: the weights are normalised inside the graph (the code rescales
    them in place each forward and back-propagates as if they were not normalised), and the
    gradient is autograd's (the code's backward to x renormalises two of its terms). ``scale``
    None keeps ||x|| (the paper); a number s replaces it, as OpenSphere's SphereFace does
    (which also uses a fractional m and detaches the margin's gradient: not done here).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        scale: float | None = None,
        margin: int = 4,
        lambda_base: float = 1000.0,
        lambda_gamma: float = 0.12,
        lambda_power: float = 1.0,
        lambda_min: float = 5.0,
    ) -> None:
        super().__init__(in_features, out_features, scale)
        if int(margin) != margin or margin < 1:
            raise ValueError(f"SphereFace's margin must be an integer >= 1, got {margin}")
        self.margin = int(margin)
        self.lambda_base = lambda_base
        self.lambda_gamma = lambda_gamma
        self.lambda_power = lambda_power
        self.lambda_min = lambda_min
        # cos(jπ/m), j = 1..m-1: the segment boundaries of ψ.
        self.thresholds = [math.cos(j * math.pi / self.margin) for j in range(1, self.margin)]
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def annealing(self) -> Tensor:
        """λ at the current ``iteration`` (a 0-d float32 tensor on the buffer's device)."""
        steps = self.iteration.to(torch.float32)
        value = self.lambda_base * (1.0 + self.lambda_gamma * steps).pow(-self.lambda_power)
        return value.clamp_min(self.lambda_min)

    def psi(self, cos: Tensor) -> Tensor:
        """ψ(θ) from cos θ (any shape): (-1)^k T_m(cos θ) - 2k."""
        previous, chebyshev = torch.ones_like(cos), cos  # T_0, T_1
        for _ in range(self.margin - 1):
            previous, chebyshev = chebyshev, 2.0 * cos * chebyshev - previous
        k = sum(((cos <= t).to(cos.dtype) for t in self.thresholds), torch.zeros_like(cos))
        sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
        return sign * chebyshev - 2.0 * k

    def target_cosine(self, cos: Tensor) -> Tensor:
        self.iteration += 1
        lam = self.annealing().to(cos.dtype)
        return (lam * cos + self.psi(cos)) / (1.0 + lam)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin}"


class CosFace(AngularMarginClassifier):
    r"""Large margin cosine loss (Wang et al., "CosFace: Large Margin Cosine Loss for Deep Face
    Recognition", CVPR 2018, Eq. 4): the target logit s (cos θ_y - m), paper s = 64, m = 0.35
    (insightface's ``CosFace`` computes the same)."""

    def __init__(
        self, in_features: int, out_features: int, scale: float = 64.0, margin: float = 0.35
    ) -> None:
        super().__init__(in_features, out_features, scale)
        self.margin = margin

    def target_cosine(self, cos: Tensor) -> Tensor:
        return cos - self.margin

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin:g}"


class ArcFace(AngularMarginClassifier):
    r"""Additive angular margin (Deng et al., "ArcFace: Additive Angular Margin Loss for Deep
    Face Recognition", CVPR 2019, Eq. 3): the target logit s cos(θ_y + m), paper s = 64, m = 0.5.

    cos(θ + m) increases again once θ + m > π, which would reward moving the feature away from
    its class; the reference code (insightface, ``easy_margin=False``) then uses the CosFace-like
    cos θ - m sin m instead, which is continuous at θ = π - m and keeps decreasing:

        ψ(θ) = cos(θ + m)        if θ + m < π  (cos θ > cos(π - m))
        ψ(θ) = cos θ - m sin m   otherwise

    θ comes from :func:`hyperssl.geometry.safe_arccos` (the code takes sqrt(1 - cos²), whose
    gradient is infinite at cos θ = ±1), so the gradient stays finite at θ = 0 and π.
    """

    def __init__(
        self, in_features: int, out_features: int, scale: float = 64.0, margin: float = 0.5
    ) -> None:
        super().__init__(in_features, out_features, scale)
        self.margin = margin

    def target_cosine(self, cos: Tensor) -> Tensor:
        with_margin = torch.cos(safe_arccos(cos) + self.margin)
        linear = cos - self.margin * math.sin(self.margin)
        return torch.where(cos > math.cos(math.pi - self.margin), with_margin, linear)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin:g}"


# method.classifier=<name> -> the layer, built from the keys of method.<name>.
ANGULAR_MARGIN_CLASSIFIERS: dict[str, type[AngularMarginClassifier]] = {
    "sphereface": SphereFace,
    "cosface": CosFace,
    "arcface": ArcFace,
}
