"""The t-vMF similarity: the cosine made more compact around θ = 0 by a concentration κ."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.geometries.base import Geometry, GeometryConfig, register_geometry


@dataclass
class TVMFConfig(GeometryConfig):
    """κ >= 0, the concentration: 0 gives the cosine, larger κ a more compact peak."""

    name: str = "tvmf"
    kappa: float = 16.0

    def validate(self, cfg: DictConfig, key: str) -> None:
        require(self.kappa >= 0, f"{key}.kappa", self.kappa, ">= 0")


@register_geometry("tvmf", TVMFConfig)
class TVMFGeometry(Geometry):
    r"""s(x, y) = (1 + cos θ)/(1 + κ(1 - cos θ)) - 1 (Kobayashi, "t-vMF Similarity for
    Regularizing Intra-Class Feature Distribution", CVPR 2021), in [-1, 1].

    κ = 0 is the cosine; as κ grows, s falls off faster away from θ = 0 (a heavy-tailed,
    Student-t-like form of the von Mises-Fisher kernel). With q = 1 + κ(1 - cos θ) >= 1:
    ds/dcos = (1 + 2κ)/q², finite everywhere, so no clamp. The kernels' logits drop the constant
    -1 (``offset``): ℓ = (1 + cos θ)/(qT). BYOL's squared distance is 2 - 2s, the squared chordal
    distance 2 - 2 cos θ at κ = 0.
    """

    offset = -1.0

    def __init__(self, config: TVMFConfig) -> None:
        super().__init__(config)
        self.kappa = config.kappa
        self.derivative_scale = 1.0 + 2.0 * config.kappa

    def _q(self, cos: Tensor) -> Tensor:
        """q = 1 + κ(1 - cos θ), a new tensor."""
        return cos.mul(-self.kappa).add_(1.0 + self.kappa)

    def similarity(self, cos: Tensor) -> Tensor:
        return (1.0 + cos) / self._q(cos) - 1.0

    def squared_distance(self, cos: Tensor) -> Tensor:
        return 2.0 - 2.0 * self.similarity(cos)

    def logits_(self, cos: Tensor, scale: float) -> Tensor:
        q = self._q(cos)
        return cos.add_(1.0).mul_(scale).div_(q)

    def derivative(self, cos: Tensor) -> Tensor:
        return self._q(cos).square_().reciprocal_()
