"""How embeddings sit on the hypersphere: alignment, uniformity, Wasserstein uniformity, pair
angles, effective rank (RankMe).

Alignment and uniformity are Wang & Isola's (ICML 2020) losses, read as metrics (lower is better
for both); the Wasserstein uniformity (Fang et al., ICLR 2024) is the distance of the embeddings'
Gaussian fit to that of the uniform distribution, which also sees dimensional collapse (lower is
better); the angles are those the geodesic geometry works with; the effective rank (Roy &
Vetterli 2007, with RankMe's ε, Garrido et al. ICML 2023) tells how many directions the
embeddings really use (higher is better).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.losses import align_loss, uniform_loss, wasserstein_uniformity


def pair_angles(z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """Angles in degrees between positive pairs (z1_i, z2_i) [B] and negative pairs (z1_i, z2_j),
    i != j [B(B-1)]. Rows are normalised first."""
    cosines = F.normalize(z1.float(), dim=1) @ F.normalize(z2.float(), dim=1).T
    angles = torch.rad2deg(torch.arccos(cosines.clamp(-1.0, 1.0)))
    off_diagonal = ~torch.eye(len(z1), dtype=torch.bool, device=z1.device)
    return angles.diagonal(), angles[off_diagonal]


def effective_rank(x: Tensor, eps: float = 1e-7) -> float:
    """RankMe(x) = exp(-Σ_k p_k log p_k), p_k = σ_k/||σ||_1 + ε, σ the singular values of ``x``
    [N, D] as they are (not normalised; Garrido et al., ICML 2023, Eq. 1, their ε = 1e-7): the
    effective rank of Roy & Vetterli (2007), between 1 (all rows on one line) and min(N, D)
    (singular values all equal). RankMe reads the representations on at least as many samples as
    dimensions (25,600 on ImageNet): fewer samples cap it at N."""
    singular = torch.linalg.svdvals(x.double())
    p = singular / singular.sum() + eps
    return math.exp(-(p * p.log()).sum().item())


def spread_metrics(x: Tensor, t: float = 2.0) -> dict[str, float]:
    """How one set of embeddings x [N, D], N >= 2, spreads: Wang & Isola's uniformity and the
    Wasserstein uniformity of its normalised rows, and RankMe (:func:`effective_rank`) of the
    rows as they are."""
    return {
        "uniformity": uniform_loss(x.float(), t=t).item(),
        "wasserstein_uniformity": wasserstein_uniformity(x.float()).item(),
        "rankme": effective_rank(x),
    }


def sphere_metrics(z1: Tensor, z2: Tensor, alpha: float = 2.0, t: float = 2.0) -> dict[str, float]:
    """Alignment, angle statistics, and the mean over both views of uniformity, Wasserstein
    uniformity and effective rank (RankMe) of two views' embeddings z1, z2 [B, D] (normalised
    here but for the rank), B >= 2."""
    positive, negative = pair_angles(z1, z2)
    spreads = [spread_metrics(z, t) for z in (z1, z2)]
    return {
        "alignment": align_loss(z1.float(), z2.float(), alpha=alpha).item(),
        "uniformity": 0.5 * (spreads[0]["uniformity"] + spreads[1]["uniformity"]),
        "wasserstein_uniformity": 0.5
        * (spreads[0]["wasserstein_uniformity"] + spreads[1]["wasserstein_uniformity"]),
        "pos_angle_mean": positive.mean().item(),
        "pos_angle_std": positive.std().item() if len(positive) > 1 else 0.0,
        "neg_angle_mean": negative.mean().item(),
        "neg_angle_std": negative.std().item() if len(negative) > 1 else 0.0,
        "effective_rank": 0.5 * (spreads[0]["rankme"] + spreads[1]["rankme"]),
    }


def label_rank(scores: Tensor, labels: Tensor) -> Tensor:
    """Rank [N] of each row's label among its class scores [N, C]: 0 for the highest score.

    Equal scores rank by class index, smaller first, as a stable descending sort orders them, so
    a top-k hit does not depend on how ``torch.topk`` happens to order ties on a device.
    """
    own = scores.gather(1, labels[:, None])
    classes = torch.arange(scores.shape[1], device=scores.device)
    ahead = (scores > own) | ((scores == own) & (classes < labels[:, None]))
    return ahead.sum(dim=1)


def top_k_accuracy(logits: Tensor, labels: Tensor, k: int, ignore_index: int = -1) -> Tensor:
    """Percentage of the labelled rows whose label is among the ``k`` largest logits [N, C]
    (ties by class index, see :func:`label_rank`; every labelled row when k >= C).

    Tensor ops only, so a training step can log it without a host synchronisation:
    torchmetrics' functional accuracy validates its inputs and drops ignored labels by boolean
    indexing, and each of those reads a value on the host.
    """
    labelled = labels != ignore_index
    hits = label_rank(logits, torch.where(labelled, labels, 0)) < k
    return 100.0 * (hits & labelled).sum() / labelled.sum().clamp(min=1)


def labelled_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = -1) -> Tensor:
    """Mean cross-entropy over the labelled rows; 0 (not NaN) when no row is labelled.

    ``F.cross_entropy(ignore_index=...)`` divides by the number of labelled rows, which is 0 on
    unlabelled data (a folder, STL-10's unlabelled split), and its NaN would reach the probe.
    """
    total = F.cross_entropy(logits, labels, ignore_index=ignore_index, reduction="sum")
    return total / (labels != ignore_index).sum().clamp(min=1)
