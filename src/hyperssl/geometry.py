"""How two points on the unit hypersphere compare: the functional API over the geometries.

A *geometry* turns the cosine of the angle between two unit vectors into a similarity; each is a
registered :class:`hyperssl.geometries.Geometry` in a file of its own (``geometry=<name>``):

- ``"cosine"``:   s(x, y) = cos θ = x·y                         (SimCLR, MoCo, BYOL)
- ``"geodesic"``: s(x, y) = 1 - θ/π,  θ = arccos(x·y) ∈ [0, π]   (Koishekenov et al., "Geometric
  Contrastive Learning", ICCV-W 2023)
- ``"tvmf"``:     s(x, y) = (1 + cos θ)/(1 + κ(1 - cos θ)) - 1      (Kobayashi, CVPR 2021)

``geometry=`` accepts a name, a config or a Geometry (:func:`hyperssl.geometries.create_geometry`).
Similarities are computed in float32 (float64 when the input is float64), with autocast
disabled: the arccos of a half-precision cosine is useless near θ = 0, where float16 rounds
1 - 1e-4 to 1.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
from torch import Tensor

from hyperssl.geometries.base import GeometryLike, create_geometry


def loss_dtype(*tensors: Tensor) -> torch.dtype:
    """The dtype losses compute in: float64 if any input is float64, else float32."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def to_loss_dtype(x: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """``x`` cast to ``dtype`` (default :func:`loss_dtype` of ``x``); a no-op when it has it."""
    return x.to(dtype or loss_dtype(x))


def no_autocast(x: Tensor) -> AbstractContextManager[None]:
    """A context in which autocast is off on ``x``'s device, so matmuls stay in float32."""
    return torch.autocast(device_type=x.device.type, enabled=False)


def safe_arccos(cos: Tensor) -> Tensor:
    """θ = arccos(cos), in float32 (float64 for float64 input), with a finite gradient everywhere.

    ``cos`` is clamped to [-1 + ε, 1 - ε] with ε the machine epsilon of the compute dtype
    (1.19e-7 in float32, 2.2e-16 in float64), so |dθ/dcos| = 1/sqrt(1 - cos²) <= 1/sqrt(2ε)
    ≈ 2048 in float32. The gradient follows the reference code of Geometric Contrastive Learning
    (Koishekenov et al. 2023), autograd through a clamp: 0 for cosines strictly beyond the
    bounds (coincident or antipodal vectors, the diagonal of a self-similarity matrix), where θ
    is constant, and -1/sqrt(1 - cos²) at the bounds and inside. It is written out rather than
    left to ``torch.clamp``, whose subgradient at the bounds themselves differs between PyTorch
    releases (1 in older ones, 0 in 2.14); the contrastive kernels apply the same rule
    (:meth:`hyperssl.geometries.Geometry.derivative`). GCL clamps at a fixed 1 ∓ 1e-7 in its
    SimCLR loss and 1 ∓ 1e-6 in its MoCo loss: on float32 cosines the former rounds to our bound
    1 ∓ 2⁻²³ exactly, the latter to 1 ∓ 17·2⁻²⁴ ≈ 1 ∓ 8.5ε.

    The clamp is applied after the cast: in float16, 1 - 1e-7 is 1. It costs little accuracy:
    θ >= arccos(1 - ε) ≈ 4.9e-4 rad in float32 (2.1e-8 in float64), while a float32 cosine
    cannot resolve angles below arccos(1 - 2⁻²⁴) ≈ 3.5e-4 rad anyway.

    cos: [*] -> θ: [*] in [arccos(1 - ε), π - arccos(1 - ε)].
    """
    with no_autocast(cos):
        c = to_loss_dtype(cos)
        eps = torch.finfo(c.dtype).eps
        inside = c.abs() <= 1.0 - eps
        return torch.acos(torch.where(inside, c, c.detach().clamp(-1.0 + eps, 1.0 - eps)))


def cosine_to_similarity(cos: Tensor, geometry: GeometryLike) -> Tensor:
    """Map cosines to the similarity of ``geometry`` (a name, a config or a Geometry).

    cos: [*] -> [*] in float32 (float64 for float64 input).
    """
    geometry = create_geometry(geometry)
    with no_autocast(cos):
        return geometry.similarity(to_loss_dtype(cos))


def similarity(x: Tensor, y: Tensor, geometry: GeometryLike = "cosine") -> Tensor:
    """Pairwise similarity of row-normalized points: S_ij = s(x_i, y_j) = s(cos θ_ij).

    ``"cosine"``: S_ij = x_i·y_j = cos θ_ij. ``"geodesic"``: S_ij = 1 - θ_ij/π with
    θ_ij = arccos(x_i·y_j) (Koishekenov et al. 2023). Rows are *not* normalized here: the
    callers (the losses) normalize their inputs once, and x·y is a cosine only for unit rows.

    x: [N, D], y: [M, D] -> S: [N, M], float32 (float64 if an input is float64).
    """
    geometry = create_geometry(geometry)
    with no_autocast(x):
        dtype = loss_dtype(x, y)
        return geometry.similarity(to_loss_dtype(x, dtype) @ to_loss_dtype(y, dtype).T)


def paired_similarity(x: Tensor, y: Tensor, geometry: GeometryLike = "cosine") -> Tensor:
    """Row-wise similarity of row-normalized points: s_i = s(x_i, y_i), the diagonal of
    :func:`similarity` without the [B, B] matrix. Rows are *not* normalized here either.

    x: [B, D], y: [B, D] -> s: [B], float32 (float64 if an input is float64).
    """
    geometry = create_geometry(geometry)
    with no_autocast(x):
        dtype = loss_dtype(x, y)
        return geometry.similarity((to_loss_dtype(x, dtype) * to_loss_dtype(y, dtype)).sum(dim=-1))
