"""Redundancy-reduction objectives: Barlow Twins' and VICReg's, on the raw projections.

Both compare the embeddings of two views through statistics over the batch dimension (a
cross-correlation, variances, covariances), in Euclidean space: neither normalises rows onto the
sphere, so neither takes a ``geometry``. Every statistic is over the rows it is given; the heads
pass the batch gathered over processes, so under DDP they are global statistics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometry import loss_dtype, no_autocast, to_loss_dtype

# The ε of the affine-free BatchNorm1d that Barlow Twins' code (and solo-learn's) standardises with.
BARLOW_TWINS_EPS = 1e-5


def standardize(z: Tensor, eps: float = BARLOW_TWINS_EPS) -> Tensor:
    """Each dimension of ``z`` centred and scaled to unit variance over the batch:
    (z - mean) / sqrt(var + ε) with the biased variance, what an affine-free ``BatchNorm1d`` in
    training mode computes.

    z: [N, D] -> [N, D].
    """
    mean = z.mean(dim=0)
    var = z.var(dim=0, unbiased=False)
    return (z - mean) / torch.sqrt(var + eps)


def off_diagonal(matrix: Tensor) -> Tensor:
    """``matrix`` with its diagonal set to 0 (by subtracting it: indexing with a boolean mask
    would read the mask back to the host).

    matrix: [D, D] -> [D, D].
    """
    return matrix - torch.diag_embed(torch.diagonal(matrix))


def cross_correlation(z_a: Tensor, z_b: Tensor, eps: float = BARLOW_TWINS_EPS) -> Tensor:
    r"""Barlow Twins' cross-correlation matrix (Zbontar et al. ICML 2021, Eq. 2):

        C_ij = Σ_b z̃^A_{b,i} z̃^B_{b,j} / N,   z̃ = :func:`standardize`\ (z)

    Eq. 2 divides by the product of the per-dimension norms of the centred z; the code that
    produced the paper's numbers standardises with an affine-free BatchNorm (ε = 1e-5, biased
    variance) and divides by N, which is the same up to ε; this follows the code.

    z_a, z_b: [N, D] -> C: [D, D], in the loss dtype (float32, float64 for float64 input).
    """
    with no_autocast(z_a):
        dtype = loss_dtype(z_a, z_b)
        z_a = standardize(to_loss_dtype(z_a, dtype), eps)
        z_b = standardize(to_loss_dtype(z_b, dtype), eps)
        return z_a.T @ z_b / z_a.shape[0]


def barlow_twins_loss(
    z_a: Tensor, z_b: Tensor, lam: float = 0.0051, scale_loss: float = 0.1
) -> Tensor:
    r"""Barlow Twins' objective (Zbontar et al. ICML 2021, Eq. 1), scaled:

        L_BT = scale_loss · [ Σ_i (1 - C_ii)² + λ Σ_i Σ_{j≠i} C_ij² ]        (1)

    with C the cross-correlation of the two views' projections (:func:`cross_correlation`).
    λ = 0.0051 is the paper's; ``scale_loss`` (absent from the paper, i.e. 1 there) is
    solo-learn's overall factor, 0.1 in its CIFAR recipe (vturrisi/solo-learn@9187ea3,
    scripts/pretrain/cifar/barlow.yaml). The loss is symmetric in the views: swapping them
    transposes C.

    z_a, z_b: [N, D] projections of two views of the same N images (N >= 2) -> scalar loss
    (float32, float64 for float64 input).
    """
    with no_autocast(z_a):
        c = cross_correlation(z_a, z_b)
        on_diagonal = (1.0 - torch.diagonal(c)).pow(2).sum()
        return scale_loss * (on_diagonal + lam * off_diagonal(c).pow(2).sum())


def invariance_loss(z_a: Tensor, z_b: Tensor) -> Tensor:
    r"""VICReg's invariance term (Bardes et al. ICLR 2022, Eq. 5), as its code computes it:

        s(Z, Z') = (1 / (N D)) Σ_b ||z_b - z'_b||²                              (5)

    Eq. 5 divides by N only; the code (and solo-learn's) takes the mean squared error over all
    N·D entries, with which the paper's λ = 25 was tuned, so this follows the code.

    z_a, z_b: [N, D] -> scalar (float32, float64 for float64 input).
    """
    with no_autocast(z_a):
        dtype = loss_dtype(z_a, z_b)
        return F.mse_loss(to_loss_dtype(z_a, dtype), to_loss_dtype(z_b, dtype))


def variance_loss(z: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    r"""VICReg's variance term of one view (Bardes et al. ICLR 2022, Eq. 1-2): a hinge on the
    standard deviation of each dimension over the batch,

        v(Z) = (1/D) Σ_j max(0, γ - S(z^j, ε)),   S(x, ε) = sqrt(Var(x) + ε)      (1)

    with the unbiased variance; ε keeps the gradient of the square root finite when a dimension
    collapses (Var = 0).

    z: [N, D] (N >= 2) -> scalar (float32, float64 for float64 input).
    """
    with no_autocast(z):
        std = torch.sqrt(to_loss_dtype(z).var(dim=0) + eps)
        return F.relu(gamma - std).mean()


def covariance_loss(z: Tensor) -> Tensor:
    r"""VICReg's covariance term of one view (Bardes et al. ICLR 2022, Eq. 3-4): the squared
    off-diagonal entries of the covariance matrix over the batch, divided by D,

        c(Z) = (1/D) Σ_{i≠j} C(Z)²_ij,   C(Z) = (1/(N-1)) Σ_b (z_b - z̄)(z_b - z̄)ᵀ   (3, 4)

    z: [N, D] (N >= 2) -> scalar (float32, float64 for float64 input).
    """
    with no_autocast(z):
        z = to_loss_dtype(z)
        centred = z - z.mean(dim=0)
        cov = centred.T @ centred / (z.shape[0] - 1)
        return off_diagonal(cov).pow(2).sum() / z.shape[1]


def vicreg_terms(
    z_a: Tensor, z_b: Tensor, gamma: float = 1.0, eps: float = 1e-4
) -> tuple[Tensor, Tensor, Tensor]:
    """VICReg's three unweighted terms for two views: s(Z, Z'), v(Z) + v(Z'), c(Z) + c(Z')
    (:func:`invariance_loss`, :func:`variance_loss`, :func:`covariance_loss`).

    z_a, z_b: [N, D] -> three scalars (float32, float64 for float64 input).
    """
    return (
        invariance_loss(z_a, z_b),
        variance_loss(z_a, gamma, eps) + variance_loss(z_b, gamma, eps),
        covariance_loss(z_a) + covariance_loss(z_b),
    )


def vicreg_loss(
    z_a: Tensor,
    z_b: Tensor,
    lam: float = 25.0,
    mu: float = 25.0,
    nu: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    r"""VICReg's objective (Bardes et al. ICLR 2022, Eq. 6):

        ℓ(Z, Z') = λ s(Z, Z') + μ [v(Z) + v(Z')] + ν [c(Z) + c(Z')]              (6)

    λ = μ = 25, ν = 1 (the paper's Sec. 4.1 and solo-learn's CIFAR recipe,
    vturrisi/solo-learn@9187ea3, scripts/pretrain/cifar/vicreg.yaml). This is Eq. 6 as printed
    and as solo-learn computes it; the official code (facebookresearch/vicreg, main_vicreg.py)
    halves the variance term, [v(Z) + v(Z')] / 2, which is μ = 12.5 here. s is the mean over
    N·D entries (:func:`invariance_loss`).

    z_a, z_b: [N, D] projections of two views of the same N images (N >= 2) -> scalar loss
    (float32, float64 for float64 input).
    """
    invariance, variance, covariance = vicreg_terms(z_a, z_b, gamma, eps)
    return lam * invariance + mu * variance + nu * covariance
