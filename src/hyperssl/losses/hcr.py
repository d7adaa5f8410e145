"""Hyperspherical consistency (Tan et al., "Hyperspherical Consistency Regularization", CVPR
2022), exactly as the authors' ``HCR.hcr_loss`` computes it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometry import loss_dtype, no_autocast, to_loss_dtype

_MIN_SQ_DIST = 1e-12
_MIN_LOG = -100.0  # torch.nn.functional.binary_cross_entropy clamps its logs here


def _sq_dists(x: Tensor) -> Tensor:
    """d²_ij = ||x_i||² + ||x_j||² - 2 x_i·x_j, clamped at 1e-12, with d²_ii = 0 (reference)."""
    sq = x.square().sum(dim=1)
    dists = (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).clamp_min(_MIN_SQ_DIST)
    return dists.fill_diagonal_(0.0)


def hcr_loss(logits: Tensor, projections: Tensor) -> Tensor:
    r"""HCR: binary cross-entropy between the pairwise Gaussian kernels of the classifier's
    logits and of the projection head's output, both on their unit hyperspheres.

    With ĥ = normalize(logits), ĝ = normalize(projections) and K(x)_ij = exp(-d²_ij),
    d²_ij = ||x_i - x_j||² clamped at 1e-12 off the diagonal and 0 on it (so K_ii = 1):

        loss = -(1/B²) Σ_ij [ K(ĥ)_ij log K(ĝ)_ij + (1 - K(ĥ)_ij) log(1 - K(ĝ)_ij) ]

    i.e. ``BCE(input=K(ĝ), target=K(ĥ))``, mean over all B² entries: the logits' kernel is in
    the *target* slot and the projections' kernel inside the logs, as in the reference.

    Gradient: the projection side is detached, so gradient flows only through K(ĥ), the target
    slot: dloss/dK(ĥ)_ij = -(1/B²) log(K(ĝ)_ij / (1 - K(ĝ)_ij)), which pulls K(ĥ)_ij up where
    the projections are close (K(ĝ) > 1/2) and down where they are far, so the classifier's
    pairwise structure follows the projection head's and never the other way round.

    Logs: log K = -d² exactly and log(1 - K) = log(-expm1(-d²)), each clamped at -100 like
    torch's BCE. These are BCE's values wherever float32 resolves 1 - K; where it rounds
    K(ĝ) to 1 (d² < 6e-8, near-duplicate projections) BCE would clip log(1 - K) to -100, while
    this keeps log(d²) >= log(1e-12) ≈ -27.6, which is what the reference's log(1 - K + 1e-12)
    gives. On the diagonal (1 - K(ĥ)_ii) = 0 multiplies the clamped log, so it adds 0.

    logits: [B, C], projections: [B, D] -> scalar (float32, float64 for float64 input).
    """
    with no_autocast(logits):
        dtype = loss_dtype(logits, projections)
        h = F.normalize(to_loss_dtype(logits, dtype), dim=1)
        g = F.normalize(to_loss_dtype(projections.detach(), dtype), dim=1)
        kernel_logits = torch.exp(-_sq_dists(h))
        sq_dist_proj = _sq_dists(g)
        log_kernel = (-sq_dist_proj).clamp_min(_MIN_LOG)
        log_one_minus_kernel = torch.log(-torch.expm1(-sq_dist_proj)).clamp_min(_MIN_LOG)
        bce = kernel_logits * log_kernel + (1.0 - kernel_logits) * log_one_minus_kernel
        return -bce.mean()
