"""Minimum hyperspherical energy (Liu et al., "Learning towards Minimum Hyperspherical Energy",
NeurIPS 2018), exactly as the reference code (github.com/wy1iu/MHE, ``code/architecture.py``)
computes it.

The N neurons of a layer are the rows of its weight flattened to [N, d], normalized as
ŵ_i = w_i / sqrt(||w_i||² + 1e-4). With c_ij = ŵ_i·ŵ_j, the energy (Eq. 1 with the power s) is
the mean over the N(N-1)/2 pairs i<j of

    s = "0":  -log(d²_ij)      s = "1":  (d²_ij)^(-1/2)     s = "2":  (d²_ij)^(-1)
    s = "a0": -log(a_ij)       s = "a1": a_ij^(-1)          s = "a2": a_ij^(-2)

with d²_ij = 2 - 2 c_ij the squared Euclidean distance and a_ij = arccos(c_ij)/π + 1e-4 the
normalized angle. Half-space MHE adds the negated neurons (2N points, mean over their
N(2N-1) pairs i<j, a neuron and its own negation included). Embeddings
(:func:`mhe_embedding_energy`) are points on the sphere: their rows are normalized exactly.

Two guards the reference lacks, which change nothing where it is finite: d² is clamped at the
machine epsilon (coincident neurons of norm > ~40, where float32 rounds c_ij to 1) and the
arccos argument to [-1 + ε, 1 - ε] (:func:`hyperssl.geometry.safe_arccos`). The reference's
coefficients (hidden layers x 1, final layer x 10, ...) live in :class:`hyperssl.regularizers.MHE`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx

from hyperssl.errors import ConfigError
from hyperssl.geometry import no_autocast, safe_arccos, to_loss_dtype

MHE_POWERS: tuple[str, ...] = ("0", "1", "2", "a0", "a1", "a2")


def check_power(power: str | int) -> str:
    """``power`` as one of :data:`MHE_POWERS` (YAML may give the int 0), else ConfigError."""
    name = str(power)
    if name not in MHE_POWERS:
        raise ConfigError(
            key="power", problem=f"unknown MHE power {power!r}", allowed=", ".join(MHE_POWERS)
        )
    return name


def _pair_energy(cos: Tensor, power: str) -> Tensor:
    """The energy of pairs with cosines ``cos`` (any shape; only real pairs are passed in)."""
    if power.startswith("a"):
        angle = safe_arccos(cos) / math.pi + 1e-4
        if power == "a0":
            return -torch.log(angle)
        return angle.pow(-float(power[1]))
    # Coincident neurons would give d² = 0: the clamp keeps the energy and its gradient finite
    # (the reference adds the identity to the diagonal only, which is never evaluated here).
    sq_dist = (2.0 - 2.0 * cos).clamp_min(torch.finfo(cos.dtype).eps)
    if power == "0":
        return -torch.log(sq_dist)
    if power == "1":
        return sq_dist.rsqrt()
    return sq_dist.reciprocal()


class _Gram(torch.autograd.Function):
    """W Wᵀ for a batch of matrices; backward (G + Gᵀ) W is one bmm where autograd does two."""

    @staticmethod
    def forward(ctx: FunctionCtx, w: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        return torch.bmm(w, w.transpose(1, 2))

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), w)


def _energies(gram: Tensor, inv_norm: Tensor, power: str, half_space: bool) -> Tensor:
    """The energies [G] of G sets of N points with Gram matrices ``gram`` [G, N, N] of the raw
    rows, each row scaled by ``inv_norm`` [G, N] to put it on (or, for the reference's
    normalization of weights, just inside) the unit sphere: c_ij = gram_ij inv_i inv_j."""
    n = gram.shape[1]
    rows, cols = torch.triu_indices(n, n, offset=1, device=gram.device)
    # [G, N(N-1)/2]: only the pairs i<j are ever evaluated.
    pair_cos = gram[:, rows, cols] * inv_norm[:, rows] * inv_norm[:, cols]
    total = _pair_energy(pair_cos, power).sum(dim=1)
    if not half_space:
        return total / max(n * (n - 1) // 2, 1)
    # The Gram matrix of [ŵ; -ŵ] is [[C, -C], [-C, C]]: each pair i<j appears twice with
    # +c_ij (within each copy) and twice with -c_ij (across copies), plus the N pairs (i, -i).
    self_cos = torch.diagonal(gram, dim1=1, dim2=2) * inv_norm.square()
    antipodal = _pair_energy(-self_cos, power).sum(dim=1)
    total = 2.0 * total + 2.0 * _pair_energy(-pair_cos, power).sum(dim=1) + antipodal
    return total / (n * (2 * n - 1))


def mhe_energies(weights: Tensor, power: str | int = "0", half_space: bool = False) -> Tensor:
    """The MHE energy of G layers of the same shape at once (one batched matmul).

    The cosines come from the raw Gram matrix, c_ij = (w_i·w_j) ŝ_i ŝ_j with
    ŝ_i = 1/sqrt(w_i·w_i + 1e-4): the reference's normalization without a pass over the
    [G, N, d] weights (a ResNet-18 has 11M of them) in forward or backward.

    weights: [G, N, d] (G layers, N neurons of dimension d each) -> [G] energies.
    """
    power = check_power(power)
    with no_autocast(weights):
        gram = _Gram.apply(to_loss_dtype(weights))
        inv_norm = torch.rsqrt(torch.diagonal(gram, dim1=1, dim2=2) + 1e-4)  # [G, N]
        return _energies(gram, inv_norm, power, half_space)


def mhe_energy(weight: Tensor, power: str | int = "0", half_space: bool = False) -> Tensor:
    """The hyperspherical energy of one layer's neurons (Liu et al. 2018, Eq. 1; see the module
    docstring for the six powers and the normalization of the reference code).

    weight: [N, ...] (a Linear's [out, in], a Conv2d's [out, in, k, k]; each output neuron is
    flattened to one point) -> scalar, float32 (float64 for float64 weights). A layer with one
    neuron has no pairs and energy 0 (half-space: the one pair (w, -w)).
    """
    return mhe_energies(weight.reshape(1, weight.shape[0], -1), power, half_space)[0]


def mhe_embedding_energy(z: Tensor, power: str | int = "0") -> Tensor:
    """The hyperspherical energy of a batch of embeddings (Liu et al. 2018, Eq. 1 with the
    powers of the module docstring), each row one point ẑ_i = z_i / max(||z_i||, 1e-12) on the
    unit sphere, mean over the B(B-1)/2 pairs: a uniformity regularizer on the projector's
    output.

    Rows are normalized exactly, as ``F.normalize`` does, so raw and normalized embeddings give
    the same energy. (The weights' normalization w / sqrt(||w||² + 1e-4) of :func:`mhe_energy`
    is the reference's guard for dead neurons; on embeddings it would put rows of small norm
    inside the sphere, a row of norm 0.01 at radius 0.71.)

    z: [B, D] -> scalar, float32 (float64 for float64 z).
    """
    power = check_power(power)
    with no_autocast(z):
        gram = _Gram.apply(to_loss_dtype(z)[None])
        # 1/max(||z_i||, 1e-12), clamped before the root: sqrt'(0) = inf would make the
        # backward of a zero row NaN.
        inv_norm = torch.diagonal(gram, dim1=1, dim2=2).clamp_min(1e-24).rsqrt()
        return _energies(gram, inv_norm, power, False)[0]
