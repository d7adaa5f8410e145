"""Decoupled contrastive learning (Yeh et al., "Decoupled Contrastive Learning", ECCV 2022):
NT-Xent without the positive pair in its denominator (DCL), and the same loss with its positive
term weighted by a negative von Mises-Fisher weight (DCLW).

Both take ``geometry=`` as :func:`hyperssl.losses.nt_xent_views` does: the logits are the
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
from hyperssl.losses.contrastive import check_views, positive_index


def negative_von_mises_fisher_weights(positive_similarity: Tensor, sigma: float = 0.5) -> Tensor:
    r"""DCLW's weights of the positive pairs (Yeh et al. 2022, the weighting function w of
    Eq. 6):

        w_ip = 2 - exp(s_ip/σ) / E_(j,q)[exp(s_jq/σ)]

    the mean E over every positive pair given, computed as 2 - M·softmax(s/σ) over the M
    pairs (max-shifted, so no exp overflows at small σ). The weights average 1; a positive pair
    less similar than the batch's typical pair weighs more than 1, a closer one less (below 0
    where exp(s/σ) exceeds twice the mean).

    The paper defines w without saying whether gradient flows through it; the weights are
    returned as they are computed from ``positive_similarity``, so callers detach it (see
    :func:`dclw_loss`).

    positive_similarity: [*] the similarities s of the positive pairs -> [*] weights.
    """
    scores = positive_similarity.flatten() / sigma
    return (2.0 - scores.numel() * torch.softmax(scores, dim=0)).view_as(positive_similarity)


def _decoupled_nt_xent(
    views: Sequence[Tensor], temperature: float, geometry: GeometryLike, sigma: float | None
) -> Tensor:
    """DCL (``sigma`` None) or DCLW (the weights of ``sigma``) of V >= 2 views."""
    geometry = create_geometry(geometry)
    shape = check_views(views, "dcl", temperature)
    if shape[0] < 2:
        raise ValueError(f"dcl needs at least 2 samples per view (its negatives), got {shape[0]}")
    if sigma is not None and sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    batch, num_views = shape[0], len(views)
    with no_autocast(views[0]):
        dtype = loss_dtype(*views)
        z = F.normalize(torch.cat([to_loss_dtype(view, dtype) for view in views]), dim=1)
        sim = similarity(z, z, geometry)  # [N, N]
        positive_sim = sim.gather(1, positive_index(batch, num_views, z.device))  # [N, V-1]
        # Decoupling: every view of the anchor's own sample, itself and its positives, leaves
        # the denominator; what remains are the other samples in all views.
        sample = torch.arange(batch * num_views, device=z.device) % batch
        same_sample = sample[:, None] == sample[None, :]
        negative_term = sim.masked_fill(same_sample, -math.inf).div(temperature).logsumexp(dim=1)
        positive_logits = positive_sim / temperature
        if sigma is not None:
            weights = negative_von_mises_fisher_weights(positive_sim.detach(), sigma)
            positive_logits = weights * positive_logits
        return (negative_term - positive_logits.mean(dim=1)).mean()


def dcl_loss(
    views: Sequence[Tensor], temperature: float = 0.1, geometry: GeometryLike = "cosine"
) -> Tensor:
    r"""The decoupled contrastive loss of V >= 2 views (Yeh et al. 2022, Eq. 6).

    The V·B projector outputs are L2-normalized and stacked as z_1..z_N (N = V·B, view-major);
    ℓ_ij = s(z_i, z_j)/τ with s the similarity of ``geometry``. The positives P(i) of anchor i
    are the same sample in the other V - 1 views, and its negatives N(i) every view of the
    other B - 1 samples, (B - 1)·V of them. NT-Xent's denominator also holds the positive;
    DCL's does not:

        loss = (1/N) Σ_i [ log Σ_{k ∈ N(i)} exp(ℓ_ik) - (1/|P(i)|) Σ_{p ∈ P(i)} ℓ_ip ]

    For V = 2 this is the paper's L_DC,i^(k) = -ℓ(z_i^(1), z_i^(2)) + log Σ_{l, j ≠ i}
    exp ℓ(z_i^(k), z_j^(l)), averaged over the 2B anchors as in lightly's implementation and
    :func:`hyperssl.losses.nt_xent_views` (the paper sums over i and k; Ramin Nakhli's
    implementation averages over i and sums over k, twice this). With more views an anchor's
    positives share its log-sum, as SupCon's L_out does (Khosla et al. 2020, Eq. 2).

    The negatives' log-sum-exp is max-shifted (no exp of raw logits) and the geometry's
    clamp keeps the gradients of duplicated and antipodal rows finite; autograd through one
    [N, N] similarity matrix.

    views: V tensors [B, D] with B >= 2 (any float dtype; computed in float32, float64 for
    float64 input, with autocast off) -> scalar loss.
    """
    return _decoupled_nt_xent(views, temperature, geometry, sigma=None)


def dclw_loss(
    views: Sequence[Tensor],
    temperature: float = 0.1,
    sigma: float = 0.5,
    geometry: GeometryLike = "cosine",
) -> Tensor:
    r"""DCL with the positive term weighted by the negative von Mises-Fisher weight
    (Yeh et al. 2022, DCLW, Eq. 6 with w):

        loss = (1/N) Σ_i [ log Σ_{k ∈ N(i)} exp(ℓ_ik) - (1/|P(i)|) Σ_{p ∈ P(i)} w_ip ℓ_ip ]
        w_ip = 2 - exp(s_ip/σ) / E_(j,q)[exp(s_jq/σ)]

    with the notation of :func:`dcl_loss` and E the mean over all N·(V - 1) ordered positive
    pairs of the batch (for V = 2 the B pairs, each counted from both ends), so that the weights
    average 1 and a hard positive (low s) pulls harder (:func:`negative_von_mises_fisher_weights`).
    σ = 0.5 is the paper's. s is the geometry's similarity, in the weight as in the logits.

    The weights are constants of the step (detached). The paper does not say; of the public
    implementations (Ramin Nakhli's, the one lightly cites as its source, and lightly's; none
    from the authors that we found), lightly's detaches them and Ramin Nakhli's lets the
    gradient through the softmax. Detached, a weight only scales its pair's pull, as a
    weighting function does; through the softmax it would add to ∂loss/∂s_jq a term
    ∝ p_jq (ℓ_jq - Σ p ℓ) (p the softmax of s/σ over the pairs) that couples every positive
    pair of the batch. Under DDP the mean E runs over the global batch (the step's gathered z),
    where lightly's runs over each process's shard.

    views: V tensors [B, D] with B >= 2 -> scalar loss (float32, float64 for float64 input).
    """
    return _decoupled_nt_xent(views, temperature, geometry, sigma=sigma)
