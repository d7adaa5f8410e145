"""hcr_loss against the HCR reference's formula, where its 1e-12 inside the logs matters.

The reference (Tan et al., CVPR 2022, ``HCR.hcr_loss``): d²_ij = (||x_i||² + ||x_j||² - 2 x_i·x_j)
clamped at 1e-12, d²_ii = 0, q = exp(-d²), and with ĥ, ĝ the normalized logits and projections

    loss = -mean(q(ĥ) log(q(ĝ) + 1e-12)) - mean((1 - q(ĥ)) log(1 - q(ĝ) + 1e-12)).
"""

import math

import pytest
import torch
import torch.nn.functional as F

from hyperssl.losses import hcr_loss

EPS = 1e-12
BATCH = 16


def _kernel(x: torch.Tensor) -> torch.Tensor:
    sq = x.square().sum(dim=1)
    sq_dist = (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp(min=EPS)
    return torch.exp(-sq_dist.fill_diagonal_(0.0))


def _reference(logits: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
    target = _kernel(F.normalize(logits, dim=1))
    kernel = _kernel(F.normalize(projections, dim=1).detach())
    return (
        -(target * torch.log(kernel + EPS)).mean()
        - ((1 - target) * torch.log(1 - kernel + EPS)).mean()
    )


def _inputs(apart: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [16, 10] and projections [16, 8]; with ``apart``, the second half of the
    projections are the first half moved ``apart`` (relative), 0 for duplicates."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(BATCH, 10, generator=generator, dtype=torch.float64)
    projections = torch.randn(BATCH, 8, generator=generator, dtype=torch.float64)
    if apart is not None:
        half = projections[: BATCH // 2]
        step = F.normalize(torch.randn(half.shape, generator=generator, dtype=torch.float64))
        projections[BATCH // 2 :] = half + apart * half.norm(dim=1, keepdim=True) * step
    return logits, projections


def _value_and_grad(loss, logits, projections) -> tuple[float, torch.Tensor]:
    logits = logits.clone().requires_grad_(True)
    value = loss(logits, projections)
    value.backward()
    return value.item(), logits.grad


@pytest.mark.parametrize("apart", [None, 0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3])
def test_hcr_loss_in_float32_is_the_reference_to_rounding(apart):
    """Measured: |Δloss| <= 1.2e-7, gradients within 3.4e-7 (relative)."""
    logits, projections = (t.float() for t in _inputs(apart))
    expected, expected_grad = _value_and_grad(_reference, logits, projections)
    got, grad = _value_and_grad(hcr_loss, logits, projections)
    assert got == pytest.approx(expected, abs=1e-6)
    assert ((grad - expected_grad).norm() / expected_grad.norm()).item() < 1e-6


def test_hcr_loss_in_float64_without_close_projections_is_the_reference():
    logits, projections = _inputs(None)
    assert hcr_loss(logits, projections).item() == pytest.approx(
        _reference(logits, projections).item(), abs=1e-11
    )


def test_hcr_loss_in_float64_differs_from_the_reference_by_log2_per_duplicated_pair():
    """A duplicated pair's log(1 - K) is log(1e-12) here, log(1 - exp(-1e-12) + 1e-12) ≈
    log(2e-12) in the reference: log 2 apart, weighted by (1 - K(ĥ)_ij)/B² (3.7e-2 in all)."""
    logits, projections = _inputs(0.0)
    target = _kernel(F.normalize(logits, dim=1))
    half = BATCH // 2
    pairs = torch.arange(half)
    duplicated = (1 - target[pairs, pairs + half]).sum() + (1 - target[pairs + half, pairs]).sum()
    # log 2 to the float64 rounding of exp(-1e-12) (~1e-4 relative on 1 - exp(-1e-12)).
    shift = math.log(1 - math.exp(-EPS) + EPS) - math.log(-math.expm1(-EPS))
    assert shift == pytest.approx(math.log(2), rel=1e-4)
    difference = hcr_loss(logits, projections) - _reference(logits, projections)
    assert difference.item() == pytest.approx(shift * duplicated.item() / BATCH**2, rel=1e-6)
    assert difference.item() == pytest.approx(3.7e-2, abs=1e-3)
