"""Regression objectives on the sphere: BYOL's and SimSiam's predictor-to-target losses."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometries import GeometryLike, create_geometry
from hyperssl.geometry import loss_dtype, no_autocast, paired_similarity, to_loss_dtype


def byol_loss(p: Tensor, z: Tensor, geometry: GeometryLike = "cosine") -> Tensor:
    r"""BYOL's regression loss between predictions and targets (Grill et al. NeurIPS 2020, Eq. 2).

    With p̂_i, ẑ_i the L2-normalized rows and θ_i their angle, loss = (1/B) Σ_i d²(θ_i) with d²
    the geometry's squared distance (:meth:`hyperssl.geometries.Geometry.squared_distance`):

    - ``"cosine"``:   loss = (1/B) Σ_i ||p̂_i - ẑ_i||² = (1/B) Σ_i (2 - 2 cos θ_i)
    - ``"geodesic"``: loss = (1/B) Σ_i θ_i², the squared geodesic distance, the geodesic analogue
      of the squared chordal distance (2 - 2 cos θ = 4 sin²(θ/2) = θ² + O(θ⁴)).

    Both are minimal (0) at p̂ = ẑ and increase with θ. The geodesic variant of the GCL fork of
    solo-learn (``byol_loss_func(..., geometric_loss=True)``) has a sign error: it computes
    2 - 2(1 - cos θ/π) = (2/π) cos θ, whose minimum is at cos θ = -1, so it drives predictions
    to the antipode of their targets (an earlier version applied arccos to the coordinate-wise
    products p̂_k ẑ_k instead of to their sum). This implementation does not reproduce either.

    ``z`` is *not* detached: the caller passes the momentum encoder's projection, which carries
    no gradient (computed under ``torch.no_grad``). θ² has a finite gradient at θ = 0 (dθ²/dcos
    → -2) and θ is clamped near 0 and π (:func:`hyperssl.geometry.safe_arccos`).

    p: [B, D] predictor outputs, z: [B, D] targets -> scalar loss (float32, float64 for float64).
    """
    geometry = create_geometry(geometry)
    with no_autocast(p):
        dtype = loss_dtype(p, z)
        p = F.normalize(to_loss_dtype(p, dtype), dim=1)
        z = F.normalize(to_loss_dtype(z, dtype), dim=1)
        return geometry.squared_distance((p * z).sum(dim=1)).mean()


def simsiam_loss(p: Tensor, z: Tensor, geometry: GeometryLike = "cosine") -> Tensor:
    r"""SimSiam's negative similarity with stop-gradient (Chen & He, CVPR 2021, Eq. 1 and 3):

        D(p, z) = -(1/B) Σ_i s(p̂_i, stopgrad(ẑ_i))

    with s the geometry's similarity of the L2-normalised rows (``"cosine"``: -cos θ_i, the
    paper's; ``"geodesic"``: -(1 - θ_i/π)). ``z`` is detached here: the stop-gradient is the
    method. The gradient of p̂ is that of BYOL's loss (:func:`byol_loss`) divided by 2 for the
    cosine (2 - 2 cos θ), so the two objectives differ in scale, not direction.

    p: [B, D] predictor outputs, z: [B, D] projections of another view -> scalar loss (float32,
    float64 for float64 input).
    """
    with no_autocast(p):
        dtype = loss_dtype(p, z)
        p = F.normalize(to_loss_dtype(p, dtype), dim=1)
        z = F.normalize(to_loss_dtype(z.detach(), dtype), dim=1)
        return -paired_similarity(p, z, geometry).mean()
