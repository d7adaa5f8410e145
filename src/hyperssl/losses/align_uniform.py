"""Alignment and uniformity (Wang & Isola, ICML 2020), as losses and as metrics.

    L_align(x, y; α) = E_i ||x̂_i - ŷ_i||^α                              (positive pairs)
    L_uniform(x; t)  = log E_{i<j} exp(-t ||x̂_i - x̂_j||²)              (all pairs of a batch)

with x̂ = x / max(||x||, 1e-12), as ``F.normalize`` (the paper normalizes the encoder's output
before both losses). Every function here normalizes its inputs' rows, so raw embeddings and
unit rows give the same value. They return float32 (float64 if an input is float64), with
autocast off.

Close pairs are computed from their differences in float64: in float32 the rounding of a
normalized row (~6e-8 per component) is large against ||x̂_i - ŷ_i|| once it falls below
~1e-4, and the expansion 2 - 2 x̂_i·ŷ_j loses such a distance entirely (see :func:`_sq_dists`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometry import loss_dtype, no_autocast, to_loss_dtype

# Each row's nearest partners recomputed from differences by :func:`_sq_dists`.
_PARTNERS = 4


def align_loss(x: Tensor, y: Tensor, alpha: float = 2) -> Tensor:
    """Alignment of positive pairs: (1/B) Σ_i ||x̂_i - ŷ_i||^α (Wang & Isola 2020, L_align),
    x̂, ŷ the rows normalized here.

    The rows are normalized and subtracted in float64 ([B, D], cheap): positive pairs get
    close, and for pairs 1e-5 apart a float32 normalization is off by 6e-4 in the gradient and
    4e-5 in the value (relative), this by 4e-8 and 1.4e-7, the float32 rounding of the result
    (tests/losses/test_precision_align_uniform.py).

    The gradient at x̂_i = ŷ_i is 0 for every α (for α <= 1 that is the subgradient of the
    cone at its tip; ``norm().pow(alpha)`` would give NaN there for α < 1).

    x: [B, D], y: [B, D] -> scalar (float32, float64 if an input is float64).
    """
    with no_autocast(x):
        dtype = loss_dtype(x, y)
        diff = F.normalize(x.double(), dim=1) - F.normalize(y.double(), dim=1)
        sq_dist = diff.square().sum(dim=1).to(dtype)
        if alpha == 2:
            return sq_dist.mean()
        positive = sq_dist > 0
        # Both branches of the where are finite, so no NaN reaches the gradient of the other.
        safe = torch.where(positive, sq_dist, torch.ones_like(sq_dist))
        return torch.where(positive, safe.pow(alpha / 2), torch.zeros_like(sq_dist)).mean()


def _sq_dists(x: Tensor, y: Tensor | None = None) -> Tensor:
    """D_ij = ||x̂_i - ŷ_j||² of the normalized rows of x: [B, D], y: [K, D] -> [B, K] (y None:
    x with itself, [B, B], the diagonal left to the caller), accurate for near-duplicates too.

    The expansion ||u_i||² + ||v_j||² - 2 u_i·v_j needs one matmul and one [B, K] matrix, but
    it cancels: its absolute error is ~ε (||u_i||² + ||v_j||²), ε the machine epsilon, so in
    float32 two unit rows 1e-5 apart get D_ij ~ 1e-10 ± 2e-7, often < 0, and once clamped no
    gradient at all. Two remedies, exact in exact arithmetic since D is translation invariant,
    and neither reads a value back to the host (a training step never waits for the device):

    - The rows are normalized and centred in float64 and only then rounded to x's dtype,
      u = x̂ - c, v = ŷ - c, with c the (detached) row of x̂ nearest to the mean of x̂: a batch
      collapsed around one point has small ||u||, and the error shrinks with it; a batch of
      identical rows has u = 0 and D = 0 exactly. (The mean itself would leave rounding noise
      in u.) In float32, normalizing before centring would round each component by ~6e-8,
      large against a collapsed batch's ||u||.
    - For every row, the 4 entries with the smallest expansion (5 with the diagonal when y is
      None) are recomputed as ||x̂_i - ŷ_j||² from the float64 differences and put in place with
      ``scatter``, through which autograd reaches the exact values. Near-duplicates (two views
      of an image, a sample drawn twice) are a row's nearest partners, and there are few of
      them; a recomputation costs B·5·D operations, negligible against the matmul, and needs no
      data-dependent shape. A row with more near partners off the centre (say two groups of
      identical rows) keeps the expansion's error for the others, clamped at 0.
    """
    symmetric = y is None
    x_unit = F.normalize(x.double(), dim=1)
    other_unit = x_unit if y is None else F.normalize(y.double(), dim=1)
    with torch.no_grad():
        mean = x_unit.mean(dim=0)
        # index_select: indexing with the 0-dim argmin would read it on the host.
        centre = x_unit.index_select(0, (x_unit - mean).square().sum(dim=1).argmin()[None])
    u, v = (x_unit - centre).to(x.dtype), (other_unit - centre).to(x.dtype)
    outer = u.square().sum(dim=1)[:, None] + v.square().sum(dim=1)[None, :]
    expansion = torch.addmm(outer, u, v.T, alpha=-2.0)
    # With y None the diagonal (0 up to rounding) may take one of the slots; its value is
    # exact and masked by the caller.
    partners = min(_PARTNERS + symmetric, v.shape[0])
    cols = expansion.detach().topk(partners, dim=1, largest=False).indices  # [B, partners]
    exact = (x_unit[:, None, :] - other_unit[cols]).square().sum(dim=-1)
    return expansion.clamp_min(0.0).scatter(1, cols, exact.to(x.dtype))


def _log_sum_exp_pairs(x: Tensor, t: float) -> Tensor:
    """log Σ_{i<j} exp(-t ||x̂_i - x̂_j||²) for x: [B, D], B >= 2.

    By symmetry Σ_{i<j} = (1/2) Σ_{i≠j}: the diagonal is masked with -inf before the
    logsumexp, so no [B(B-1)/2] index tensor is built.
    """
    logits = _sq_dists(x).mul(-t)
    logits.fill_diagonal_(-math.inf)
    return torch.logsumexp(logits.flatten(), dim=0) - math.log(2.0)


def uniform_loss(x: Tensor, t: float = 2) -> Tensor:
    r"""Uniformity of a batch: log (2/(B(B-1))) Σ_{i<j} exp(-t ||x̂_i - x̂_j||²)
    (Wang & Isola 2020, L_uniform: the log of the mean Gaussian potential over pairs),
    x̂ the rows of x normalized here.

    Computed as logsumexp over the pairs minus log(#pairs), with one [B, B] matrix of squared
    distances from a matmul, near-duplicate pairs recomputed from their differences (see
    :func:`_sq_dists`). Its minimum is reached when the points spread uniformly; clustered
    points give values near 0.

    Against the reference ``torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()`` on unit
    rows (it needs a [B(B-1)/2] vector): the same value. Its gradient is finite at duplicated
    rows on torch 2.14 (each zero-distance pair contributes 0), and so is this one. In float32
    at near-duplicate rows (pairs 1e-5 apart, exact copies, or a batch within 1e-5 of one point)
    the gradient is within 4e-7 (relative) of the float64 one, where the plain expansion
    2 - 2 x̂_i·x̂_j clamped at 0 is off by up to 0.88 (tests/losses/test_precision_align_uniform.py).
    The cost is that of the plain expansion: 0.45 s forward and backward at B = 4096, D = 128
    on two CPU cores, either way.

    x: [B, D], B >= 2 -> scalar (float32, float64 for float64 input).
    """
    batch = x.shape[0]
    if batch < 2:
        raise ValueError(f"uniform_loss needs at least 2 rows, got {batch}")
    with no_autocast(x):
        return _log_sum_exp_pairs(to_loss_dtype(x), t) - math.log(batch * (batch - 1) / 2)


def uniform_loss_with_queue(
    x: Tensor, queue: Tensor, t: float = 2, intra_batch: bool = True
) -> Tensor:
    r"""Uniformity of a batch against a MoCo queue, the paper's MoCo variant.

    Wang & Isola's ImageNet experiments (github.com/SsnL/moco_align_uniform) compute L_uniform of
    the queries q over their squared distances to every queue entry and, by default
    (``intra_batch=True``), also over the pairs i<j within the batch:

        log [ ( Σ_{i,k} exp(-t ||x̂_i - q̂_k||²) + Σ_{i<j} exp(-t ||x̂_i - x̂_j||²) )
              / ( B·K + B(B-1)/2 ) ]

    i.e. the log of the mean Gaussian potential over the union of the B·K batch-vs-queue pairs
    and the B(B-1)/2 within-batch pairs (with ``intra_batch=False``, over the B·K pairs only).
    Rows of x and of the queue are normalized here (x̂, q̂). The queue is a constant there (a
    buffer of past keys): it is detached here. Squared distances as in :func:`uniform_loss`.

    x: [B, D] queries, queue: [K, D] keys -> scalar.
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
