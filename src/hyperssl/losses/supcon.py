"""Supervised contrastive learning (Khosla et al., "Supervised Contrastive Learning", NeurIPS
2020): NT-Xent whose positives are every view of every sample of the anchor's class.

It takes ``geometry=`` as :func:`hyperssl.losses.nt_xent_views` does: the logits are the
geometry's similarity s(cos θ) over the temperature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometries import GeometryLike, create_geometry
from hyperssl.geometry import loss_dtype, no_autocast, similarity, to_loss_dtype
from hyperssl.losses.contrastive import check_views


def supcon_loss(
    views: Sequence[Tensor],
    labels: Tensor,
    temperature: float = 0.1,
    geometry: GeometryLike = "cosine",
) -> Tensor:
    r"""SupCon's L_out over V >= 2 views (Khosla et al. 2020, Eq. 2), averaged over anchors.

    The V·B projector outputs are L2-normalized and stacked as z_1..z_N (N = V·B, view-major),
    each with its sample's label; ℓ_ij = s(z_i, z_j)/τ with s the similarity of ``geometry``.
    The positives P(i) of anchor i are every other z_p of its class, the other views of its own
    sample included; its denominator A(i) runs over all N - 1 others:

        loss = (1/N) Σ_i  -(1/|P(i)|) Σ_{p ∈ P(i)} log( exp(ℓ_ip) / Σ_{a ∈ A(i)} exp(ℓ_ia) )

    (the paper sums over i; its reference code, HobbitLong/SupContrast, averages). A negative
    label (-1: the data pipeline's unlabelled samples) is a class of its own sample: such an
    anchor's positives are its other views only, and it is a negative of every other sample, so
    with every label -1 this is :func:`hyperssl.losses.nt_xent_views` with
    ``positives="mean_log_prob"``.

    The reference code multiplies the loss by τ/τ_base (τ_base = 0.07, its default), a constant
    factor, 1/0.7 at the paper's τ = 0.1. It is left out: the loss is the paper's Eq. 2, and
    ``heads.supcon.weight=1.4286`` gives the reference code's objective at τ = 0.1.

    The log-sum-exp is max-shifted (no exp of raw logits) and the geometry's clamp keeps the
    gradients of duplicated and antipodal rows finite; autograd through one [N, N] similarity
    matrix.

    views: V tensors [B, D] (any float dtype; computed in float32, float64 for float64 input,
    with autocast off), labels: [B] integer class of each sample (-1: unlabelled) -> scalar loss.
    """
    geometry = create_geometry(geometry)
    shape = check_views(views, "supcon", temperature)
    if labels.shape != shape[:1]:
        raise ValueError(f"labels must be [B] = {list(shape[:1])}, got {list(labels.shape)}")
    batch, num_views = shape[0], len(views)
    with no_autocast(views[0]):
        dtype = loss_dtype(*views)
        z = F.normalize(torch.cat([to_loss_dtype(view, dtype) for view in views]), dim=1)
        logits = similarity(z, z, geometry) / temperature  # [N, N]
        itself = torch.eye(batch * num_views, dtype=torch.bool, device=z.device)
        log_denominator = logits.masked_fill(itself, -math.inf).logsumexp(dim=1)
        label = labels.to(z.device).repeat(num_views)
        sample = torch.arange(batch * num_views, device=z.device) % batch
        same_class = (label[:, None] == label[None, :]) & (label[:, None] >= 0)
        positives = ((same_class | (sample[:, None] == sample[None, :])) & ~itself).to(dtype)
        # Every anchor has its V - 1 other views among its positives: no division by zero.
        mean_positive_logit = (positives * logits).sum(dim=1) / positives.sum(dim=1)
        return (log_denominator - mean_positive_logit).mean()
