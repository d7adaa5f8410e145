"""The spherization layer (Kim & Kim, "Spherization Layer: Representation Using Only Angles",
NeurIPS 2022) and the classifier layers built on it.

Spherization maps n features to a point of the sphere of radius r in n + 1 dimensions whose
coordinates are all positive, through hyperspherical coordinates with angles in (φ_L, π/2):

    θ_k = (π/2 - φ_L) · sigmoid(scaling · x_k) + φ_L,     φ_L = arcsin(δ^(1/n))
    y_1 = r cos θ_1,   y_k = r (Π_{j<k} sin θ_j) cos θ_k,   y_{n+1} = r Π_{j<=n} sin θ_j

so ||y|| = r and y_{n+1} >= r δ. A following bias-free linear layer then reads y only through
angles: w·y = r ||w|| cos ∠(w, y).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import ConfigError, require
from hyperssl.geometry import no_autocast, to_loss_dtype
from hyperssl.registry import PartConfig

# The reference caps φ_L at (π/2)(1 - 0.01) so that the angles keep a range to move in.
_MAX_LOWER_BOUND = (math.pi / 2) * (1.0 - 0.01)


@dataclass
class SpherizationConfig(PartConfig):
    """The spherization layer's hyperparameters (Kim & Kim 2022): scaling, radius, which of the
    two are learnable ("TF": scaling learnable, radius fixed), and the angle lower bound delta."""

    scaling: float = 5.0
    radius: float = 5.0
    lrable: str = "TF"
    delta: float = 1e-6

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        _check_lrable(self.lrable, f"{key}.lrable")
        require(self.scaling > 0, f"{key}.scaling", self.scaling, "> 0")
        require(self.radius > 0, f"{key}.radius", self.radius, "> 0")
        require(0 < self.delta < 1, f"{key}.delta", self.delta, "0 < delta < 1")


def _check_lrable(lrable: str, key: str = "lrable") -> tuple[bool, bool]:
    if not isinstance(lrable, str) or len(lrable) != 2 or set(lrable) - {"T", "F"}:
        raise ConfigError(
            key=key,
            problem=f"{lrable!r} is not two letters T/F (scaling learnable, radius learnable)",
            allowed="TT, TF, FT, FF",
        )
    return lrable[0] == "T", lrable[1] == "T"


class Spherization(nn.Module):
    """Features -> a point of the positive orthant of the radius-``radius`` sphere in n + 1 dims.

    Args:
        num_features: n, the size of dimension 1 of the input.
        scaling: the slope of the sigmoid that maps features to angles.
        radius: r, the norm of every output.
        lrable: two letters T/F: is ``scaling`` learnable, is ``radius`` learnable ("TF": the
            scaling is a parameter, the radius a buffer, as in the paper's experiments).
        delta: δ, the lower bound of the last coordinate relative to r, which sets φ_L.

    The products of sines are a cumulative sum of log-sines (O(n) memory; the reference
    multiplies by an [n+1, n+1] triangular matrix). log cos θ_k is computed as
    log sin((π/2 - φ_L) · sigmoid(-scaling·x_k)) through ``logsigmoid``, so it stays finite where
    sigmoid(scaling·x_k) rounds to 1; coordinates below the dtype's smallest normal number
    (only for |scaling·x| > ~87 in float32) are raised to it, so that every output is > 0.
    Computed in float32 (float64 for float64 input) with autocast off; returned in the input's
    dtype.

    x: [B, n] or [B, n, *] (spherized along dimension 1, e.g. channels) -> [B, n + 1, *].
    """

    def __init__(
        self,
        num_features: int,
        scaling: float = 5.0,
        radius: float = 5.0,
        lrable: str = "TF",
        delta: float = 1e-6,
    ) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be >= 1, got {num_features}")
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must be in (0, 1), got {delta}")
        scaling_learnable, radius_learnable = _check_lrable(lrable)
        self.num_features = num_features
        self.lrable = lrable
        self.delta = delta
        self.lower_bound = min(math.asin(delta ** (1.0 / num_features)), _MAX_LOWER_BOUND)
        for name, value, learnable in (
            ("scaling", scaling, scaling_learnable),
            ("radius", radius, radius_learnable),
        ):
            tensor = torch.tensor(float(value))
            if learnable:
                self.register_parameter(name, nn.Parameter(tensor))
            else:
                self.register_buffer(name, tensor)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"Spherization({self.num_features}) expects [B, {self.num_features}, ...], "
                f"got {tuple(x.shape)}"
            )
        with no_autocast(x):
            u = self.scaling * to_loss_dtype(x).movedim(1, -1)  # [..., n]
            span = math.pi / 2 - self.lower_bound
            theta = span * torch.sigmoid(u) + self.lower_bound
            log_sin = torch.log(torch.sin(theta))
            # cos θ = sin(π/2 - θ) = sin(t) with t = span·sigmoid(-u), and
            # log sin t = log t + log(sin t / t), finite even where t underflows to 0.
            t = span * torch.sigmoid(-u)
            log_cos = math.log(span) + F.logsigmoid(-u) + torch.log(torch.sinc(t / math.pi))
            cum_log_sin = torch.cumsum(log_sin, dim=-1)  # Σ_{j<=k} log sin θ_j
            before = F.pad(cum_log_sin[..., :-1], (1, 0))  # Σ_{j<k} log sin θ_j
            log_y = torch.cat([before + log_cos, cum_log_sin[..., -1:]], dim=-1)
            log_y = log_y.clamp_min(math.log(torch.finfo(log_y.dtype).tiny))
            y = self.radius * torch.exp(log_y)
            return y.movedim(-1, 1).to(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features} -> {self.num_features + 1}, scaling={float(self.scaling):g}, "
            f"radius={float(self.radius):g}, lrable={self.lrable!r}, delta={self.delta:g}"
        )


class SphericLinear(nn.Module):
    """Spherization followed by a bias-free linear layer: the classifier of the paper.

    x: [B, in_features] -> sphere in in_features + 1 dims -> [B, out_features].
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        scaling: float = 5.0,
        radius: float = 5.0,
        lrable: str = "TF",
        delta: float = 1e-6,
    ) -> None:
        super().__init__()
        self.spherization = Spherization(in_features, scaling, radius, lrable, delta)
        self.linear = nn.Linear(in_features + 1, out_features, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.spherization(x))


class SphericConv2d(nn.Module):
    """Spherization along channels followed by a bias-free convolution.

    x: [B, in_channels, H, W] -> [B, in_channels + 1, H, W] on the sphere at every pixel ->
    ``nn.Conv2d(in_channels + 1, out_channels, kernel_size, bias=False, **conv_kwargs)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 1,
        scaling: float = 5.0,
        radius: float = 5.0,
        lrable: str = "TF",
        delta: float = 1e-6,
        **conv_kwargs: Any,
    ) -> None:
        super().__init__()
        if "bias" in conv_kwargs:
            raise ValueError("SphericConv2d's convolution has no bias (it reads angles only)")
        self.spherization = Spherization(in_channels, scaling, radius, lrable, delta)
        self.conv = nn.Conv2d(in_channels + 1, out_channels, kernel_size, bias=False, **conv_kwargs)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.spherization(x))
