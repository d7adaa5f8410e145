"""Alignment and uniformity (Wang & Isola, ICML 2020), as losses and as metrics.

    L_align(x, y; α) = E_i ||x_i - y_i||^α                              (positive pairs)
    L_uniform(x; t)  = log E_{i<j} exp(-t ||x_i - x_j||²)             (all pairs of a batch)

Inputs are expected on the unit sphere (the paper normalizes the encoder's output); neither
function normalizes. Both compute in float32 (float64 for float64 input) with autocast off.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from hyperssl.geometry import loss_dtype, no_autocast, to_loss_dtype


def align_loss(x: Tensor, y: Tensor, alpha: float = 2) -> Tensor:
    """Alignment of positive pairs: (1/B) Σ_i ||x_i - y_i||^α (Wang & Isola 2020, L_align).

    The gradient at x_i = y_i is 0 for every α (for α <= 1 that is the subgradient of the
    cone at its tip; ``norm().pow(alpha)`` would give NaN there for α < 1).

    x: [B, D], y: [B, D] -> scalar.
    """
    with no_autocast(x):
        dtype = loss_dtype(x, y)
        sq_dist = (to_loss_dtype(x, dtype) - to_loss_dtype(y, dtype)).square().sum(dim=1)
        if alpha == 2:
            return sq_dist.mean()
        positive = sq_dist > 0
        # Both branches of the where are finite, so no NaN reaches the gradient of the other.
        safe = torch.where(positive, sq_dist, torch.ones_like(sq_dist))
        return torch.where(positive, safe.pow(alpha / 2), torch.zeros_like(sq_dist)).mean()


def _sq_dists(x: Tensor, y: Tensor) -> Tensor:
    """||x_i - y_j||² = ||x_i||² + ||y_j||² - 2 x_i·y_j from the Gram matrix, clamped at 0.

    For unit rows this is 2 - 2 x_i·y_j. Unlike ``torch.pdist`` (whose gradient is NaN at zero
    distance) it has a finite gradient for duplicated rows.
    """
    sq_x = x.square().sum(dim=1)
    sq_y = y.square().sum(dim=1)
    return (sq_x[:, None] + sq_y[None, :] - 2.0 * (x @ y.T)).clamp_min(0.0)


def _log_sum_exp_pairs(x: Tensor, t: float) -> Tensor:
    """log Σ_{i<j} exp(-t ||x_i - x_j||²) for x: [B, D], B >= 2.

    By symmetry Σ_{i<j} = (1/2) Σ_{i≠j}: the diagonal is masked with -inf before the
    logsumexp, so no [B(B-1)/2] index tensor is built.
    """
    logits = _sq_dists(x, x).mul(-t)
    logits.fill_diagonal_(-math.inf)
    return torch.logsumexp(logits.flatten(), dim=0) - math.log(2.0)


def uniform_loss(x: Tensor, t: float = 2) -> Tensor:
    r"""Uniformity of a batch: log (2/(B(B-1))) Σ_{i<j} exp(-t ||x_i - x_j||²)
    (Wang & Isola 2020, L_uniform, the log of the mean Gaussian potential over pairs).

    Computed as logsumexp over the pairs minus log(#pairs), with squared distances from the Gram
    matrix (2 - 2 x_i·x_j for unit rows, clamped at 0), so duplicated rows have finite gradients
    (the reference ``torch.pdist(x).pow(2)`` has NaN gradients at zero distance). Its minimum for
    unit rows is reached when the points spread uniformly; clustered points give values near 0.

    x: [B, D], B >= 2 -> scalar (float32, float64 for float64 input).
    """
    batch = x.shape[0]
    if batch < 2:
        raise ValueError(f"uniform_loss needs at least 2 rows, got {batch}")
    with no_autocast(x):
        x = to_loss_dtype(x)
        return _log_sum_exp_pairs(x, t) - math.log(batch * (batch - 1) / 2)


def uniform_loss_with_queue(
    x: Tensor, queue: Tensor, t: float = 2, intra_batch: bool = True
) -> Tensor:
    r"""Uniformity of a batch against a MoCo queue, the paper's MoCo variant.

    Wang & Isola's ImageNet experiments (github.com/SsnL/moco_align_uniform) compute L_uniform of
    the queries q over their squared distances to every queue entry and, by default
    (``intra_batch=True``), also over the pairs i<j within the batch:

        log [ ( Σ_{i,k} exp(-t ||x_i - queue_k||²) + Σ_{i<j} exp(-t ||x_i - x_j||²) )
              / ( B·K + B(B-1)/2 ) ]

    i.e. the log of the mean Gaussian potential over the union of the B·K batch-vs-queue pairs
    and the B(B-1)/2 within-batch pairs (with ``intra_batch=False``, over the B·K pairs only).
    The queue is a constant there (a buffer of past keys): it is detached here.

    x: [B, D] normalized queries, queue: [K, D] normalized keys -> scalar.
    """
    batch, size = x.shape[0], queue.shape[0]
    with no_autocast(x):
        dtype = loss_dtype(x, queue)
        x = to_loss_dtype(x, dtype)
        queue = to_loss_dtype(queue.detach(), dtype)
        log_sum = torch.logsumexp(_sq_dists(x, queue).mul(-t).flatten(), dim=0)
        count = batch * size
        if intra_batch and batch >= 2:
            log_sum = torch.logaddexp(log_sum, _log_sum_exp_pairs(x, t))
            count += batch * (batch - 1) // 2
        return log_sum - math.log(count)
