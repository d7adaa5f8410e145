"""Contrastive objectives: SimCLR's NT-Xent (two or more views), MoCo's InfoNCE with a queue
(MoCo v2) and with in-batch keys (MoCo v3).

All take ``geometry=`` (a name, a config or a :class:`hyperssl.geometries.Geometry`): the logits
are similarity / temperature with the similarity s(cos θ) of the geometry (the cosine, the
geodesic 1 - θ/π of Geometric Contrastive Learning, t-vMF, ...). The hand-written kernels ask the
geometry for its logits and for ds/dcos, so they work for every registered geometry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from hyperssl.geometries import Geometry, GeometryLike, create_geometry
from hyperssl.geometry import (
    loss_dtype,
    no_autocast,
    paired_similarity,
    similarity,
    to_loss_dtype,
)
from hyperssl.intra_op_threads import intra_op_threads

NT_XENT_POSITIVES: tuple[str, ...] = ("log_sum_prob", "mean_log_prob")
"""How :func:`nt_xent_views` combines an anchor's positives when there are more than two views."""


def positive_index(batch: int, num_views: int, device: torch.device) -> Tensor:
    """Column indices of the positives of each anchor: row v*B + b -> (u*B + b for u != v), in
    the order u = v + 1, ..., v + V - 1 (mod V), i.e. positives[i, m] = i + (m + 1)B mod N.

    -> [V*B, V-1], int64.
    """
    rows = torch.arange(num_views * batch, device=device)
    view, sample = rows // batch, rows % batch
    shift = torch.arange(1, num_views, device=device)
    return ((view[:, None] + shift[None, :]) % num_views) * batch + sample[:, None]


# Rows per block: blocks of about BLOCK_ELEMENTS [rows, K] elements keep the temporaries of the
# softmax in cache (only the result, [B, K], is allocated whole), but never fewer than
# MIN_BLOCK_ROWS rows: each block's product reads all K columns (a MoCo queue of 65536 keys is
# 64 MiB), so thinner blocks make the products memory-bound. Larger blocks (2^20, 2^22) made the
# cosine path up to 10 % faster but the geodesic one no faster (its arccos temporaries leave the
# cache: geodesic/cosine 1.21-1.31 at B = 1024-4096 against 1.15-1.20), and next to a busy
# neighbour process no block size was measurably better than another (2 cores, run to run
# spread of 2x).
BLOCK_ELEMENTS = 1 << 18
MIN_BLOCK_ROWS = 128
# A [rows, K] problem up to this size runs on one intra-op thread on CPU, forward and backward.
# Its ~30 ops are then each too short to gain much from a second thread, and each would be a
# parallel region stalled by a thread that a busy neighbour process has descheduled. NT-Xent at
# B = 256 (2^18 elements), 2 cores: quiet 1.8 ms on 2 threads, 2.9 on one (solo-learn: 3.9);
# next to a busy neighbour, 10-220 ms on 2 threads, 4.1-4.4 on one (solo-learn: 12-300).
ONE_THREAD_ELEMENTS = 1 << 18
NORMALIZE_EPS = 1e-12  # F.normalize's default


def _threads_for(rows: int, columns: int, device: torch.device) -> AbstractContextManager:
    """One intra-op thread for a small [rows, columns] problem on CPU (see above)."""
    if device.type == "cpu" and rows * columns <= ONE_THREAD_ELEMENTS:
        return intra_op_threads(1)
    return nullcontext()


class RowSoftmax(NamedTuple):
    """What the contrastive losses need of the row softmax of their logits."""

    weighted: Tensor  # [B, K] P ∘ W: the softmax P times W = (ds/dcos)/k (1 for the cosine)
    lse: Tensor  # [B] log Σ_j exp ℓ_ij, without the geometry's offset/T
    positive_logits: Tensor | None  # [B, P] ℓ at the given positive columns, without offset/T
    positive_weight: Tensor | None  # [B, P] W at the positive columns (None if W is constant)


def _row_softmax(
    a: Tensor,
    c: Tensor,
    temperature: float,
    geometry: Geometry,
    exclude_self: bool = False,
    positives: Tensor | None = None,
) -> RowSoftmax:
    """The row softmax P of the logits ℓ_ij = (s(a_i·c_j) - o)/T over a [B, K] similarity matrix.

    o is the geometry's ``offset`` (the softmax ignores it; cosine: 0, geodesic: 1, so that
    ℓ = -θ/(πT)), and the cosines are under the geometry's clamp (:meth:`Geometry.clamp_`).
    dℓ/dcos = k·W/T with k the geometry's ``derivative_scale`` and W its ``derivative`` (geodesic:
    k = 1/π, W = 1/sin θ = (1 - cos²)^(-1/2), 0 beyond the clamp; cosine: k = 1 and no W at all),
    taken at the cosines before the clamp, so that W is 0 where the clamp holds ℓ constant.
    ``exclude_self`` sets ℓ_ii = -inf (a and c the same rows).

    Computed block of rows by block (max-shifted exp, never exp of raw logits) in the rows of the
    result: the one [B, K] allocation holds the cosines, then the logits, then P ∘ W, which
    backward needs; W is the only other temporary, a block.
    """
    rows, columns = a.shape[0], c.shape[0]
    weighted = a.new_empty(rows, columns)
    lse = a.new_empty(rows)
    positive_logits: list[Tensor] = []
    positive_weights: list[Tensor] = []
    step = max(MIN_BLOCK_ROWS, BLOCK_ELEMENTS // max(columns, 1))
    for start in range(0, rows, step):
        block = slice(start, min(start + step, rows))
        cos = torch.mm(a[block], c.T, out=weighted[block])
        weight = geometry.derivative(cos)
        logits = geometry.logits_(geometry.clamp_(cos), 1.0 / temperature)
        if exclude_self:
            logits[:, block].fill_diagonal_(-math.inf)
        if positives is not None:
            positive_logits.append(logits.gather(1, positives[block]))
            if weight is not None:
                positive_weights.append(weight.gather(1, positives[block]))
        row_max = logits.amax(dim=1, keepdim=True)
        prob = logits.sub_(row_max).exp_()
        row_sum = prob.sum(dim=1, keepdim=True)
        lse[block] = (row_max + row_sum.log()).squeeze(1)
        if weight is not None:
            prob.mul_(weight)
        prob.div_(row_sum)
    return RowSoftmax(
        weighted,
        lse,
        torch.cat(positive_logits) if positive_logits else None,
        torch.cat(positive_weights) if positive_weights else None,
    )


class _NTXent(torch.autograd.Function):
    """NT-Xent of the L2-normalized rows of the stacked views x, with a hand-written backward,
    for either rule of :data:`NT_XENT_POSITIVES`.

    The rows are normalized here, z = x / max(|x|, eps) as ``F.normalize``, and the gradient
    taken through it at the end of backward.

    Forward (:func:`_row_softmax`, block of rows by block): the row softmax P, lse_i and the
    positives' logits gathered first, then loss_i = lse_i - mean_p ℓ_ip (``mean_log_prob``) or
    lse_i - log Σ_p exp ℓ_ip (``log_sum_prob``); this is log-softmax with one [N, N] allocation.
    dloss_i/dℓ_ij = P_ij - T_ij with the targets T nonzero only at the positives: 1/|P(i)|, or
    the softmax of the positives' logits. With dℓ/dcos = k·W/τ, dloss/dcos = k (P - T) ∘ W / (Nτ)
    and, as cos = z zᵀ, dz = (G + Gᵀ) z. The one [N, N] matrix kept for backward is P ∘ W (P
    itself for the cosine); S = T ∘ W is kept as [N, V - 1], and its part of dz is a sum over
    the positives, which are z shifted by whole views. Autograd on the same expression keeps the
    logits, a masked copy and a softmax, and does two [N, N] x [N, D] products where this does
    one.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        z: Tensor,
        num_views: int,
        temperature: float,
        geometry: Geometry,
        rule: str,
    ) -> Tensor:
        n = z.shape[0]
        with _threads_for(n, n, z.device):
            # F.normalize's rule, done here so that its backward is one expression of the
            # backward below rather than autograd's half-dozen small ops.
            norms = z.norm(dim=1, keepdim=True)
            z = z / norms.clamp_min(NORMALIZE_EPS)
            positives = positive_index(n // num_views, num_views, z.device)
            soft = _row_softmax(z, z, temperature, geometry, exclude_self=True, positives=positives)
            logits = soft.positive_logits
            if rule == "log_sum_prob":
                positive_term = logits.logsumexp(dim=1, keepdim=True)
                targets = (logits - positive_term).exp_()
            else:
                positive_term = logits.mean(dim=1, keepdim=True)
                targets = torch.full_like(logits, 1.0 / (num_views - 1))
            loss = (soft.lse - positive_term.squeeze(1)).mean()
            if soft.positive_weight is not None:
                targets.mul_(soft.positive_weight)
            ctx.save_for_backward(z, norms, soft.weighted, positives, targets)
            ctx.scale = geometry.derivative_scale / (n * temperature)
            ctx.batch = n // num_views
            return loss

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: FunctionCtx, grad: Tensor
    ) -> tuple[Tensor, None, None, None, None]:
        z, norms, prob, positives, targets = ctx.saved_tensors
        with no_autocast(z), _threads_for(*prob.shape, z.device):
            # (Q + Qᵀ) z with Q = P ∘ W. A blocked transpose copy plus an add costs about a
            # quarter of a second matmul; `prob + prob.T` reads with stride N and costs half.
            grad_z = torch.mm(prob.T.contiguous().add_(prob), z)
            # Minus (S + Sᵀ) z with S = T ∘ W, held as S[i, m] for column positives[i, m]. S is
            # not symmetric under log_sum_prob, but the positive relation is: j = positives[i, m]
            # (view shift m + 1) has i as its positive V - 2 - m (shift V - m - 1), so
            # (Sᵀ)[i, j] = S[j, V - 2 - m], a gather of S with its columns reversed.
            coefficients = targets + targets.flip(1).gather(0, positives)
            # Column m of the positives is z shifted by (m + 1)B rows: two slices of z each, no
            # [N, V - 1, D] gather (which costs more than this whole sum).
            for m in range(positives.shape[1]):
                shift = (m + 1) * ctx.batch
                grad_z[:-shift].addcmul_(coefficients[:-shift, m : m + 1], z[shift:], value=-1.0)
                grad_z[-shift:].addcmul_(coefficients[-shift:, m : m + 1], z[:shift], value=-1.0)
            grad_z.mul_(grad.to(z.dtype) * ctx.scale)
            # Through the normalisation z = x / max(|x|, eps): (g - z (z·g)) / |x|, and g / eps
            # for the rows whose norm the clamp holds (as F.normalize's autograd).
            radial = (z * grad_z).sum(dim=1, keepdim=True).mul_(norms > NORMALIZE_EPS)
            grad_x = grad_z.sub_(z * radial).div_(norms.clamp_min(NORMALIZE_EPS))
        return grad_x, None, None, None, None


class _LogSumExpSimilarity(torch.autograd.Function):
    """lse_i = log Σ_j exp(s(a_i, c_j) / T) over a rectangular [B, K] similarity matrix.

    Forward keeps one [B, K] matrix, P ∘ W (P the row softmax, W ∝ dlogits/dcos; see
    :func:`_row_softmax`); backward applies the per-row factor dloss/dlse to the [B, D] products,
    so it allocates nothing of size [B, K].
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx, a: Tensor, c: Tensor, temperature: float, geometry: Geometry
    ) -> Tensor:
        with _threads_for(a.shape[0], c.shape[0], a.device):
            soft = _row_softmax(a, c, temperature, geometry)
        ctx.save_for_backward(a, c, soft.weighted)
        ctx.scale = geometry.derivative_scale / temperature
        return soft.lse + geometry.offset / temperature

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: FunctionCtx, grad: Tensor
    ) -> tuple[Tensor | None, Tensor | None, None, None]:
        a, c, prob = ctx.saved_tensors
        with no_autocast(a), _threads_for(*prob.shape, a.device):
            # dlse_i/dcos_ij = k P_ij W_ij / T; the row factor grad_i commutes with the products.
            row = (grad.to(a.dtype) * ctx.scale)[:, None]
            grad_a = (prob @ c).mul_(row) if ctx.needs_input_grad[0] else None
            grad_c = prob.T @ (a * row) if ctx.needs_input_grad[1] else None
        return grad_a, grad_c, None, None


def check_views(views: Sequence[Tensor], loss: str, temperature: float) -> torch.Size:
    """The common [B, D] shape of V >= 2 views of a multi-view contrastive ``loss``, after
    checking it and a positive ``temperature`` (ValueError naming what is wrong)."""
    if len(views) < 2:
        raise ValueError(f"{loss} needs at least 2 views, got {len(views)}")
    shape = views[0].shape
    if len(shape) != 2 or any(view.shape != shape for view in views):
        raise ValueError(f"every view must be [B, D] with the same shape, got {shape} first")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return shape


def nt_xent_views(
    views: Sequence[Tensor],
    temperature: float = 0.2,
    geometry: GeometryLike = "cosine",
    positives: str = "log_sum_prob",
) -> Tensor:
    r"""NT-Xent over V >= 2 views (SimCLR, Chen et al. ICML 2020, Eq. 1), with two rules for the
    V - 1 positives of an anchor when V > 2 (SupCon, Khosla et al. NeurIPS 2020, with the views
    of one image as its class).

    The V·B projector outputs are L2-normalized and stacked as z_1..z_N (N = V·B, view-major).
    With logits ℓ_ij = s(z_i, z_j) / τ (s from ``geometry``), the positives P(i) of anchor i are
    the same sample in the other V - 1 views, the denominator runs over all N - 1 others, and
    p_ij = exp(ℓ_ij) / Σ_{k ≠ i} exp(ℓ_ik):

        "log_sum_prob":   loss = (1/N) Σ_i  -log Σ_{p ∈ P(i)} p_ip
                               = (1/N) Σ_i  log Σ_{k ≠ i} exp(ℓ_ik) - log Σ_{p ∈ P(i)} exp(ℓ_ip)
        "mean_log_prob":  loss = (1/N) Σ_i  -(1/|P(i)|) Σ_{p ∈ P(i)} log p_ip

    ``log_sum_prob`` (the default) is minus the log of the positives' summed probability, the
    SimCLR loss of solo-learn and of its fork by Geometric Contrastive Learning (GCL); per anchor
    it is SupCon's L_in (Eq. 3, minus the log of their mean probability) minus log |P(i)|, a
    constant. ``mean_log_prob`` is SupCon's L_out (Eq. 2, the mean of their log-probabilities),
    the form Khosla et al. recommend; by Jensen's inequality L_in <= L_out. For V = 2 there is
    one positive per anchor and both are SimCLR's NT-Xent (2B - 2 negatives), averaged over all
    2B anchors. For the geodesic geometry ℓ_ij = (1 - θ_ij/π)/τ (Koishekenov et al., ICCV-W
    2023), with θ clamped so that duplicated or antipodal rows have finite gradients
    (:meth:`hyperssl.geometries.Geometry.clamp_`, :func:`hyperssl.geometry.safe_arccos`).

    Computed as a max-shifted log-softmax (never exp of raw logits) with a hand-written backward:
    one [N, N] matrix (for every geometry) and one [N, N] x [N, D] product each way.

    views: V tensors [B, D] (any float dtype; computed in float32, float64 for float64 input,
    with autocast off); positives: one of :data:`NT_XENT_POSITIVES` -> scalar loss.
    """
    geometry = create_geometry(geometry)
    if positives not in NT_XENT_POSITIVES:
        allowed = ", ".join(repr(rule) for rule in NT_XENT_POSITIVES)
        raise ValueError(f"positives must be one of {allowed}, got {positives!r}")
    check_views(views, "nt_xent", temperature)
    with no_autocast(views[0]):
        dtype = loss_dtype(*views)
        stacked = torch.cat([to_loss_dtype(view, dtype) for view in views])
        return _NTXent.apply(stacked, len(views), float(temperature), geometry, positives)


def nt_xent(
    z1: Tensor, z2: Tensor, temperature: float = 0.2, geometry: GeometryLike = "cosine"
) -> Tensor:
    """SimCLR's NT-Xent of two views (Chen et al. 2020, Eq. 1); ``nt_xent_views([z1, z2], ...)``.
    With one positive per anchor the two ``positives`` rules of :func:`nt_xent_views` are the
    same loss, so there is no such argument here.

    z1, z2: [B, D] projector outputs (normalized inside) -> scalar loss, mean over the 2B anchors.
    """
    return nt_xent_views([z1, z2], temperature, geometry)


def info_nce_queue(
    q: Tensor,
    k: Tensor,
    queue: Tensor,
    temperature: float = 0.2,
    geometry: GeometryLike = "cosine",
) -> Tensor:
    r"""MoCo's InfoNCE with a queue of negatives (He et al. CVPR 2020, Eq. 1; MoCo v2).

    With q̂, k̂, n̂ the L2-normalized queries, keys and rows of the queue, and logits
    ℓ⁺_i = s(q̂_i, k̂_i)/τ, ℓ⁻_ij = s(q̂_i, n̂_j)/τ, this is the cross-entropy with target 0 over
    [ℓ⁺_i, ℓ⁻_i1..ℓ⁻_iK]:

        loss = (1/B) Σ_i  log( exp(ℓ⁺_i) + Σ_j exp(ℓ⁻_ij) ) - ℓ⁺_i

    computed as logaddexp(ℓ⁺, logsumexp(ℓ⁻)) without concatenating the [B, 1 + K] logits; the
    [B, K] part has a hand-written backward (it keeps one [B, K] matrix, the softmax).
    ``k`` is a constant (the momentum encoder's output): it is detached here. ``queue`` may hold
    raw keys: normalizing it costs [K, D] elementwise work next to the [B, K] product, and is a
    no-op up to rounding on the normalized keys MoCo stores. Gradient reaches ``queue`` only if
    it requires grad.

    q: [B, D], k: [B, D], queue: [K, D] -> scalar loss (float32, float64 for float64 input).
    """
    geometry = create_geometry(geometry)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    with no_autocast(q):
        dtype = loss_dtype(q, k, queue)
        q = F.normalize(to_loss_dtype(q, dtype), dim=1)
        k = F.normalize(to_loss_dtype(k.detach(), dtype), dim=1)
        positive = paired_similarity(q, k, geometry) / temperature
        queue = F.normalize(to_loss_dtype(queue, dtype), dim=1)
        negatives = _LogSumExpSimilarity.apply(q, queue, float(temperature), geometry)
        return (torch.logaddexp(positive, negatives) - positive).mean()


def info_nce(
    q: Tensor, k: Tensor, temperature: float = 0.2, geometry: GeometryLike = "cosine"
) -> Tensor:
    r"""InfoNCE with in-batch keys (MoCo v3, Chen et al. ICCV 2021, Eq. 1 / Algorithm 1).

    With logits ℓ_ij = s(q̂_i, k̂_j)/τ over the B keys of the batch, the positive of q_i is k_i:

        loss = (1/B) Σ_i  log Σ_j exp(ℓ_ij) - ℓ_ii

    MoCo v3 multiplies this by 2τ; that scaling belongs to the method (see the MoCo v3 head).
    ``k`` (the momentum encoder's output) is detached here.

    q: [B, D], k: [B, D] -> scalar loss (float32, float64 for float64 input).
    """
    geometry = create_geometry(geometry)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    with no_autocast(q):
        dtype = loss_dtype(q, k)
        q = F.normalize(to_loss_dtype(q, dtype), dim=1)
        k = F.normalize(to_loss_dtype(k.detach(), dtype), dim=1)
        logits = similarity(q, k, geometry) / temperature
        return F.cross_entropy(logits, torch.arange(len(q), device=q.device))
