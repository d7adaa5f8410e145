"""The cosine similarity of SimCLR, MoCo and BYOL."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from hyperssl.geometries.base import Geometry, GeometryConfig, register_geometry


@dataclass
class CosineConfig(GeometryConfig):
    """No keys of its own."""

    name: str = "cosine"


@register_geometry("cosine", CosineConfig)
class CosineGeometry(Geometry):
    r"""s(x, y) = cos θ = x·y (Chen et al. ICML 2020; He et al. CVPR 2020; Grill et al. 2020).

    ds/dcos = 1, so the contrastive kernels are a bare matrix product and a softmax. BYOL's
    squared distance is the squared chordal distance ||x - y||² = 2 - 2 cos θ.
    """

    def similarity(self, cos: Tensor) -> Tensor:
        return cos

    def squared_distance(self, cos: Tensor) -> Tensor:
        return 2.0 - 2.0 * cos

    def logits_(self, cos: Tensor, scale: float) -> Tensor:
        return cos.mul_(scale)

    def derivative(self, cos: Tensor) -> None:
        return None
