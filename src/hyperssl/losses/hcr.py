"""Hyperspherical consistency (Tan et al., "Hyperspherical Consistency Regularization", CVPR
2022), as the authors' ``HCR.hcr_loss`` computes it but without the 1e-12 it adds inside its
logs: identical to rounding in float32, different for (near-)duplicated projections in float64
(figures in :func:`hcr_loss`)."""

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

    Logs: log K = -d² exactly and log(1 - K) = log(-expm1(-d²)), the latter clamped at -100
    like torch's BCE, which only acts on the diagonal (log 0), where (1 - K(ĥ)_ii) = 0
    multiplies it, so it adds 0. These are BCE's values wherever the dtype resolves 1 - K(ĝ);
    where K(ĝ) rounds to 1 (duplicated projections in float32) BCE clips log(1 - K) to -100,
    while this gives log(1e-12) ≈ -27.6, as the reference does.

    The reference takes log(K + 1e-12) and log(1 - K + 1e-12) instead. Measured against a
    transcription of it (tests/losses/test_precision_hcr.py; B = 16, eight pairs of projections
    that are duplicated or 1e-7 to 1e-3 apart, or none):

    - float32: the same to rounding, |Δloss| <= 1.2e-7 and gradients within 3.4e-7 (relative).
      The expansion 2 - 2 ĝ_i·ĝ_j of float32 unit rows is either <= 0, clamped to 1e-12 (then
      log(1 - K) = log(1e-12) in both), or a multiple of 2⁻²³ ≈ 1.2e-7, where 1 - K is resolved
      and adding 1e-12 rounds away.
    - float64: different where d²(ĝ) ≲ 1e-10, log(d²) here against ≈ log(d² + 1e-12) there.
      A duplicated pair (d² clamped to 1e-12) gets log(1e-12) here and log(2e-12) there, log 2
      apart, weighted by (1 - K(ĥ)_ij)/B²: |Δloss| = 3.7e-2 (gradients 2.4e-2 apart) with the
      eight pairs duplicated or 1e-7 to 1e-6 apart, 5.8e-4 at 1e-5, 5.8e-6 at 1e-4, 5.8e-8 at
      1e-3, 2.5e-12 without close pairs.

    logits: [B, C], projections: [B, D] -> scalar (float32, float64 for float64 input).
    """
    with no_autocast(logits):
        dtype = loss_dtype(logits, projections)
        h = F.normalize(to_loss_dtype(logits, dtype), dim=1)
        g = F.normalize(to_loss_dtype(projections.detach(), dtype), dim=1)
        kernel_logits = torch.exp(-_sq_dists(h))
        sq_dist_proj = _sq_dists(g)
        log_one_minus_kernel = torch.log(-torch.expm1(-sq_dist_proj)).clamp_min(_MIN_LOG)
        bce = kernel_logits * (-sq_dist_proj) + (1.0 - kernel_logits) * log_one_minus_kernel
        return -bce.mean()
