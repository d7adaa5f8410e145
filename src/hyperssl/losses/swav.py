"""SwAV's objective (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments", NeurIPS 2020): codes from Sinkhorn-Knopp, and the swapped prediction of them."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from hyperssl.geometry import loss_dtype, no_autocast, to_loss_dtype


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor, epsilon: float = 0.05, iterations: int = 3) -> Tensor:
    r"""Soft codes of N samples over K prototypes, equipartitioned over the prototypes
    (Caron et al. 2020, Sec. 3.1): the entropy-regularised transport

        Q* = argmax_{Q ∈ 𝒬} Tr(Qᵀ S) + ε H(Q),   𝒬 = {Q ≥ 0 : Q 1_N = 1_K / K, Qᵀ 1_K = 1_N / N}

    has the form Q* = Diag(u) exp(S/ε) Diag(v), and ``iterations`` alternating rescalings of
    exp(S/ε) (rows to 1/K, columns to 1/N) approximate u and v; the columns are finally scaled to
    sum to 1, so that each sample's code is a distribution over the prototypes. The scores are
    SwAV's z·c (the run's geometry's similarity: the head passes them), the samples those of one
    view of the batch, preceded by the queue's when it is used.

    As in the official code and solo-learn the last step normalises the samples, so each row of
    the result sums to 1 exactly while the prototype marginals are only approximately uniform.
    The reference rescales exp(S/ε) itself; here the same rescalings are done on its logarithm
    (subtracting log-sum-exps), which gives the same codes up to rounding and stays finite for
    any ε: in float32, exp(S/ε) overflows for S/ε > 88 and, shifted by its maximum, underflows
    to whole zero columns once the scores spread over more than 87ε (ε = 0.01 with cosine
    scores; the default ε = 0.05 is safe either way). The reference's first division by the
    total is left out: the rescaling of the prototypes that follows cancels any common factor.
    No gradient flows through the codes.

    scores: [N, K] -> codes: [N, K], float32 (float64 for float64 input), rows summing to 1.
    """
    with no_autocast(scores):
        log_codes = to_loss_dtype(scores) / epsilon  # [N, K]
        samples, prototypes = log_codes.shape
        for _ in range(iterations):
            log_codes -= torch.logsumexp(log_codes, dim=0, keepdim=True) + math.log(prototypes)
            log_codes -= torch.logsumexp(log_codes, dim=1, keepdim=True) + math.log(samples)
        return torch.exp(log_codes + math.log(samples))


def swav_loss(scores: list[Tensor], codes: list[Tensor], temperature: float = 0.1) -> Tensor:
    r"""The swapped prediction (Caron et al. 2020, Eq. 1-2, with multi-crop, Sec. 3.2): every
    view v predicts the code q_i of every other view i that has one (the large crops),

        ℓ(z_v, q_i) = -(1/B) Σ_n Σ_k q_{n,i}^(k) log p_{n,v}^(k),
        p_{n,v}^(k) = exp(s(z_{n,v}, c_k)/τ) / Σ_k' exp(s(z_{n,v}, c_k')/τ),

        loss = mean over the pairs (i, v), i < len(codes), v ≠ i, of ℓ(z_v, q_i).

    For two views this is L(z_1, z_2)/2 with L = ℓ(z_1, q_2) + ℓ(z_2, q_1) (Eq. 1). The mean over
    the pairs is the official code's and solo-learn's (``swav_loss_func``): each code is
    predicted by the V - 1 other views and the sum is divided by (V - 1) and by the number of
    codes. The codes are targets, detached here.

    scores: V tensors [B, K], the views' similarities to the prototypes, the ``len(codes)``
    large crops first; codes: [B, K] per large crop (:func:`sinkhorn_knopp`) -> scalar loss
    (float32, float64 for float64 input).
    """
    with no_autocast(scores[0]):
        dtype = loss_dtype(*scores, *codes)
        log_probs = [
            torch.log_softmax(to_loss_dtype(s, dtype) / temperature, dim=1) for s in scores
        ]
        terms = [
            -(to_loss_dtype(q.detach(), dtype) * log_p).sum(dim=1).mean()
            for i, q in enumerate(codes)
            for v, log_p in enumerate(log_probs)
            if v != i
        ]
        return torch.stack(terms).mean()
