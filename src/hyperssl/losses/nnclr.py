"""NNCLR (Dwibedi et al., ICCV 2021): the nearest neighbour of an embedding in a support set on
the sphere, and the contrastive loss that takes it as the positive."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometries import GeometryLike, create_geometry
from hyperssl.geometry import loss_dtype, no_autocast, similarity, to_loss_dtype


@torch.no_grad()
def nearest_neighbours(z: Tensor, support: Tensor, geometry: GeometryLike = "cosine") -> Tensor:
    r"""NN(z_i, Q) = argmax_{q ∈ Q} s(ẑ_i, q): each row's nearest neighbour in the support set
    (Dwibedi et al. 2021, Eq. 4, there argmin_q ||ẑ_i - q||₂, the same row for unit vectors and
    the cosine), with s the geometry's similarity of the L2-normalised row ẑ_i and the rows of Q.

    The search carries no gradient: NN(z_i, Q) is a row of the queue, a constant of the step (the
    argmax has no derivative, and neither the paper nor solo-learn passes one around it). For a
    geometry whose s increases with the cosine (all registered ones) the neighbour is the cosine's;
    the geometry's own similarity keeps the search right for one that does not.

    z: [B, D] embeddings (normalised here), support: [K, D] unit rows -> [B, D] rows of
    ``support`` (its dtype).
    """
    geometry = create_geometry(geometry)
    with no_autocast(z):
        z = F.normalize(to_loss_dtype(z.detach(), loss_dtype(z, support)), dim=1)
        return support[similarity(z, support, geometry).argmax(dim=1)]


def nnclr_loss(
    nn: Tensor, p: Tensor, temperature: float = 0.2, geometry: GeometryLike = "cosine"
) -> Tensor:
    r"""NNCLR's contrastive loss (Dwibedi et al. 2021, Eq. 3), averaged over the batch:

        L = (1/B) Σ_i  -log( exp(s(n̂_i, p̂_i)/τ) / Σ_k exp(s(n̂_i, p̂_k)/τ) )

    with n̂_i = NN(z_i, Q) the support-set neighbour of one view's embedding, p̂_k the
    L2-normalised predictions of the other view (the paper's z⁺, here through solo-learn's
    predictor) and s the geometry's similarity (``"cosine"``: n̂·p̂, the paper's). Each row is a
    softmax over the batch's predictions with the same sample's as the target: the anchor is the
    constant neighbour and the gradient reaches only ``p``. That is why this is not
    :func:`hyperssl.losses.info_nce` (in-batch InfoNCE, the same sum with the gradient on the
    anchors and the columns detached).

    nn: [B, D] neighbours (detached here), p: [B, D] predictions -> scalar loss (float32, float64
    for float64 input).
    """
    geometry = create_geometry(geometry)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    with no_autocast(p):
        dtype = loss_dtype(nn, p)
        nn = F.normalize(to_loss_dtype(nn.detach(), dtype), dim=1)
        p = F.normalize(to_loss_dtype(p, dtype), dim=1)
        logits = similarity(nn, p, geometry) / temperature
        return F.cross_entropy(logits, torch.arange(len(p), device=p.device))
