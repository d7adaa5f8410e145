"""The KoLeo regulariser (Sablayrolles et al., "Spreading vectors for similarity search",
ICLR 2019), as DINOv2 uses it (Oquab et al. 2024).

The Kozachenko-Leonenko estimator of the differential entropy of n points is
H_n = (α/n) Σ_i log ρ_{n,i} + β, with ρ_{n,i} = min_{j≠i} ||x̂_i - x̂_j|| the distance of a point
to its nearest neighbour (Sablayrolles et al., Sec. 3). Dropping the constants gives the KoLeo
loss, whose minimisation spreads the points:

    L_KoLeo = -(1/n) Σ_i log ρ_{n,i}

computed here as DINOv2's ``KoLeoLoss`` (facebookresearch/dinov2, dinov2/loss/koleo_loss.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometry import no_autocast, to_loss_dtype


def koleo_loss(x: Tensor, eps: float = 1e-8) -> Tensor:
    r"""L_KoLeo = -(1/n) Σ_i log(ρ_i + ε), ρ_i = ||x̂_i - x̂_{j(i)} + ε||, x̂ the rows of x
    normalised here, j(i) = argmax_{j≠i} x̂_i·x̂_j the nearest other row (Sablayrolles et al.
    2019, the KoLeo loss; DINOv2's ``KoLeoLoss``).

    As DINOv2 computes it:

    - rows normalised as x / max(||x||, ε) (``F.normalize(eps=ε)``: a zero row stays 0);
    - the neighbour is the row of largest dot product with the diagonal masked, which for unit
      rows is the nearest one; it is an index, so no gradient flows through the search;
    - ρ_i from the difference of the pair, with ε added to each component
      (``nn.PairwiseDistance(eps=ε)``, i.e. ``F.pairwise_distance``), and log(ρ_i + ε): both
      keep the loss and its gradient finite at ρ = 0. For an exact duplicate ρ_i = ε √D and
      the term is -log(ε (√D + 1)) ≈ 18.4 - log(√D + 1) at ε = 1e-8, with a gradient of norm
      at most ~1/(n ε (√D + 1)), large but finite; two copies that are each other's neighbour
      get opposite gradients from their two terms (ε shifts both differences the same way),
      which cancel. With ε = 0 this is the paper's formula exactly.

    Two departures, neither of which changes a value DINOv2 gets right: the diagonal is masked
    with -inf rather than -1, so a row whose other rows are all antipodal to it (dot product
    -1, e.g. two antipodal rows) still gets a neighbour other than itself (DINOv2's -1 ties
    there, and the row could pick itself, ρ = ε √D); and the rows are normalised and
    subtracted in float64 ([n, D], cheap), so ρ_i of near-duplicates is not lost to the
    float32 rounding of the normalised rows (~6e-8 per component, as in
    :func:`hyperssl.losses.align_loss`). The search's [n, n] matmul runs in the loss dtype.

    DINOv2 applies it to each global crop's backbone [CLS] tokens on each GPU's local batch
    (the neighbours are searched among the local rows only). The heads receive the batch
    gathered over processes, so here the neighbours come from the global batch: with more
    rows, nearest neighbours are closer and the loss is larger than DINOv2's per-GPU value.

    Computed with autocast off, in float32 (float64 for float64 x); no value is read back to
    the host.

    x: [n, D], n >= 2 -> scalar.
    """
    batch = x.shape[0]
    if batch < 2:
        raise ValueError(f"koleo_loss needs at least 2 rows, got {batch}")
    with no_autocast(x):
        x = to_loss_dtype(x)
        unit = F.normalize(x.double(), dim=1, eps=eps)
        with torch.no_grad():
            search = unit.to(x.dtype)
            dots = search @ search.T
            dots.fill_diagonal_(-math.inf)
            neighbours = dots.argmax(dim=1)
        distances = F.pairwise_distance(unit, unit.index_select(0, neighbours), eps=eps)
        return -torch.log(distances.to(x.dtype) + eps).mean()
