"""One gradient rule for geodesic pairs at the clamp, in every contrastive loss: the hand-written
backward passes give what autograd gives through the same forward written plainly with
Geometry.similarity (safe_arccos: the derivative at and inside [-1 + ε, 1 - ε], 0 beyond)."""

import pytest
import torch
import torch.nn.functional as F

from hyperssl.geometries import Geometry, create_geometry
from hyperssl.losses import info_nce, info_nce_queue, nt_xent, nt_xent_views

GEODESIC = create_geometry("geodesic")
TEMPERATURE = 0.2


def _reference_nt_xent(views: list[torch.Tensor], geometry: Geometry, positives: str):
    """Log-softmax over the others; minus the log-sum-exp (``log_sum_prob``) or the mean
    (``mean_log_prob``) of the positives' log-probabilities."""
    z = F.normalize(torch.cat(views), dim=1)
    n, batch = len(z), len(views[0])
    self_mask = torch.eye(n, dtype=torch.bool)
    logits = geometry.similarity(z @ z.T) / TEMPERATURE
    log_prob = logits.masked_fill(self_mask, -torch.inf).log_softmax(dim=1)
    sample = torch.arange(n) % batch
    positive = (sample[:, None] == sample[None, :]) & ~self_mask
    log_prob = log_prob[positive].view(n, len(views) - 1)
    if positives == "log_sum_prob":
        return -log_prob.logsumexp(dim=1).mean()
    return -log_prob.mean(dim=1).mean()


def _reference_info_nce_queue(q, k, queue, geometry: Geometry):
    """Cross-entropy with target 0 over [positive, queue] of normalized rows (MoCo v2)."""
    q, k = F.normalize(q, dim=1), F.normalize(k.detach(), dim=1)
    queue = F.normalize(queue, dim=1)
    positive = geometry.similarity((q * k).sum(dim=1, keepdim=True))
    logits = torch.cat([positive, geometry.similarity(q @ queue.T)], dim=1) / TEMPERATURE
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))


def _reference_info_nce(q, k, geometry: Geometry):
    """Cross-entropy over the in-batch keys of normalized rows (MoCo v3)."""
    q, k = F.normalize(q, dim=1), F.normalize(k.detach(), dim=1)
    logits = geometry.similarity(q @ k.T) / TEMPERATURE
    return F.cross_entropy(logits, torch.arange(len(q)))


# name -> (the loss, its plain reference), both of three [B, D] rows a, b, c, differentiated
# with respect to all three (info_nce_queue: q = a, k = b, queue = [b; -c]).
LOSSES = {
    "nt_xent": (
        lambda a, b, c: nt_xent(a, b, TEMPERATURE, "geodesic"),
        lambda a, b, c: _reference_nt_xent([a, b], GEODESIC, "log_sum_prob"),
    ),
    "nt_xent_views_log_sum_prob": (
        lambda a, b, c: nt_xent_views([a, b, c], TEMPERATURE, "geodesic", "log_sum_prob"),
        lambda a, b, c: _reference_nt_xent([a, b, c], GEODESIC, "log_sum_prob"),
    ),
    "nt_xent_views_mean_log_prob": (
        lambda a, b, c: nt_xent_views([a, b, c], TEMPERATURE, "geodesic", "mean_log_prob"),
        lambda a, b, c: _reference_nt_xent([a, b, c], GEODESIC, "mean_log_prob"),
    ),
    "info_nce_queue": (
        lambda a, b, c: info_nce_queue(a, b, torch.cat([b, -c]), TEMPERATURE, "geodesic"),
        lambda a, b, c: _reference_info_nce_queue(a, b, torch.cat([b, -c]), GEODESIC),
    ),
    "info_nce": (
        lambda a, b, c: info_nce(a, b, TEMPERATURE, "geodesic"),
        lambda a, b, c: _reference_info_nce(a, b, GEODESIC),
    ),
}


def _rows(n: int, d: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64)


def _at_angle(cos: float, along: int, towards: int, dtype: torch.dtype) -> torch.Tensor:
    """cos·e_along + sqrt(1 - cos²)·e_towards in R^4: a unit row whose float norm is exactly 1,
    so normalizing leaves it as is and its product with e_along is exactly ``cos``."""
    row = torch.zeros(4, dtype=dtype)
    row[along] = cos
    row[towards] = (1.0 - cos * cos) ** 0.5
    return row


def _case(name: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three views a, b, c of 3 samples in R^4 (b the positives of a, c the third view)."""
    if name == "random":
        return _rows(3, 4, 0).to(dtype), _rows(3, 4, 1).to(dtype), _rows(3, 4, 2).to(dtype)
    if name == "near_identical":  # most cosines of a and b round to beyond 1 - ε in float32
        a = _rows(3, 4, 3).to(dtype)
        return a, a + 1e-4 * _rows(3, 4, 4).to(dtype), a - 1e-4 * _rows(3, 4, 5).to(dtype)
    if name == "duplicates":  # b = a, and the first sample twice in c
        a = _rows(3, 4, 6).to(dtype)
        return a, a.clone(), torch.cat([a[:1], a[:1], _rows(1, 4, 7).to(dtype)])
    eps = torch.finfo(dtype).eps
    # "bounds": cos(a, b) = 1 - ε (at the clamp), 1 - ε/2 (beyond it) and -(1 - ε).
    e = torch.eye(4, dtype=dtype)
    a = torch.stack([e[0], e[1], e[3]])
    b = torch.stack(
        [
            _at_angle(1.0 - eps, 0, 1, dtype),
            _at_angle(1.0 - eps / 2, 1, 2, dtype),
            -_at_angle(1.0 - eps, 3, 2, dtype),
        ]
    )
    expected = torch.tensor([1.0 - eps, 1.0 - eps / 2, -1.0 + eps], dtype=dtype)
    assert torch.equal((F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(dim=1), expected)
    return a, b, _rows(3, 4, 8).to(dtype)


def _value_and_grads(loss_fn, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    loss = loss_fn(*leaves)
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    return [loss.detach()] + [
        torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads, strict=True)
    ]


# Relative to the largest entry. A pair at a tiny angle θ inside the clamp (float64: the
# near-identical rows, 1 - 1.5ε among the duplicates) has 1/sin θ up to ~4e7, and the
# normalization's backward cancels it down to O(1): two correct implementations that sum in
# different orders then agree to about ε/sin θ, not to 1e-10. In float32 such pairs are beyond
# the clamp, with no gradient.
TOLERANCES = {
    (torch.float64, "random"): 1e-10,
    (torch.float64, "bounds"): 1e-10,
    (torch.float64, "near_identical"): 1e-7,
    (torch.float64, "duplicates"): 1e-7,
}


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("case", ["random", "near_identical", "duplicates", "bounds"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_geodesic_loss_gradient_is_autograd_through_the_clamp(loss, case, dtype):
    loss_fn, reference_fn = LOSSES[loss]
    inputs = _case(case, dtype)
    tol = TOLERANCES.get((dtype, case), 1e-5)
    got = _value_and_grads(loss_fn, inputs)
    expected = _value_and_grads(reference_fn, inputs)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=tol, atol=tol * e.abs().max().item())
