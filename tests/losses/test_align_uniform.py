"""Alignment and uniformity against loops over pairs, and their gradients at coincident points."""

import math

import pytest
import torch
import torch.nn.functional as F

from hyperssl.losses import align_loss, uniform_loss, uniform_loss_with_queue


def _unit_rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=generator, dtype=torch.float64), dim=1).to(dtype)


def _sq_dist(a: list[float], b: list[float]) -> float:
    return sum((p - q) ** 2 for p, q in zip(a, b, strict=True))


def _loop_uniform(x: torch.Tensor, queue: torch.Tensor | None, t: float, intra: bool) -> float:
    rows = x.tolist()
    potentials = []
    if queue is not None:
        potentials += [math.exp(-t * _sq_dist(a, b)) for a in rows for b in queue.tolist()]
    if intra:
        potentials += [
            math.exp(-t * _sq_dist(rows[i], rows[j]))
            for i in range(len(rows))
            for j in range(i + 1, len(rows))
        ]
    return math.log(sum(potentials) / len(potentials))


@pytest.mark.parametrize("alpha", [2, 1, 3, 0.5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_align_loss_matches_loop(alpha, dtype):
    x, y = _unit_rows(5, 3, 0, dtype), _unit_rows(5, 3, 1, dtype)
    expected = sum(
        _sq_dist(a, b) ** (alpha / 2) for a, b in zip(x.tolist(), y.tolist(), strict=True)
    )
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert align_loss(x, y, alpha).item() == pytest.approx(expected / 5, abs=tol)


@pytest.mark.parametrize("alpha", [2, 1, 0.5])
def test_align_loss_grad_is_zero_and_finite_for_identical_pairs(alpha):
    x = _unit_rows(4, 3, 2, torch.float32).requires_grad_(True)
    align_loss(x, x.detach().clone(), alpha).backward()
    assert x.grad.abs().max().item() == 0.0


@pytest.mark.parametrize("t", [2.0, 0.5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("n", "d"), [(2, 3), (6, 4), (9, 2)])
def test_uniform_loss_matches_loop_over_pairs(t, dtype, n, d):
    x = _unit_rows(n, d, 3, dtype)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    assert uniform_loss(x, t).item() == pytest.approx(_loop_uniform(x, None, t, True), abs=tol)


def test_uniform_loss_matches_the_reference_pdist_formula():
    x = _unit_rows(7, 5, 4)
    reference = torch.pdist(x, p=2).pow(2).mul(-2).exp().mean().log()
    assert uniform_loss(x, 2).item() == pytest.approx(reference.item(), abs=1e-12)


def test_uniform_loss_is_lower_for_spread_than_clustered_points():
    spread = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    clustered = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [1.0, -0.1], [1.0, 0.2]]), dim=1)
    assert uniform_loss(spread).item() < uniform_loss(clustered).item() - 1.0


def test_uniform_loss_grad_finite_for_duplicated_rows():
    base = _unit_rows(3, 4, 5, torch.float32)
    x = torch.cat([base, base[:1], base[:1]]).requires_grad_(True)
    uniform_loss(x).backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("intra_batch", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_uniform_loss_with_queue_matches_loop(intra_batch, dtype):
    x, queue = _unit_rows(4, 3, 6, dtype), _unit_rows(5, 3, 7, dtype)
    expected = _loop_uniform(x, queue, 2.0, intra_batch)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    got = uniform_loss_with_queue(x, queue, 2.0, intra_batch)
    assert got.item() == pytest.approx(expected, abs=tol)


def test_uniform_loss_with_queue_treats_queue_as_constant_and_has_finite_grad():
    x = _unit_rows(3, 4, 8, torch.float32).requires_grad_(True)
    queue = torch.cat([x.detach(), -x.detach()]).requires_grad_(True)
    uniform_loss_with_queue(x, queue).backward()
    assert queue.grad is None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_uniformity_and_alignment_of_half_inputs_are_float32(dtype):
    x, y = _unit_rows(4, 8, 9, dtype), _unit_rows(4, 8, 10, dtype)
    assert uniform_loss(x).dtype == torch.float32
    assert align_loss(x, y).dtype == torch.float32
    assert uniform_loss_with_queue(x, y).dtype == torch.float32


def test_uniform_loss_under_bfloat16_autocast_is_float32_with_finite_grad():
    encoder = torch.nn.Linear(6, 4)
    inputs = _unit_rows(5, 6, 11, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = F.normalize(encoder(inputs), dim=1)
        loss = uniform_loss(x) + align_loss(x, x.flip(0))
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(encoder.weight.grad).all()


def test_uniform_loss_needs_two_rows():
    with pytest.raises(ValueError, match="at least 2"):
        uniform_loss(_unit_rows(1, 3, 12))


LOSSES_OF_ROWS = {
    "align": lambda x, y: align_loss(x, y, 1.0),
    "uniform": lambda x, y: uniform_loss(x),
    "uniform_with_queue": uniform_loss_with_queue,
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", LOSSES_OF_ROWS)
def test_loss_of_raw_rows_equals_loss_of_normalized_rows(name, dtype):
    """Rows of norm 1e-3 to 1e3 are the same points on the sphere as their normalized rows."""
    x, y = _unit_rows(6, 4, 13), _unit_rows(6, 4, 14)
    scales = torch.logspace(-3, 3, 6, dtype=torch.float64)[:, None]
    loss = LOSSES_OF_ROWS[name]
    expected = loss(x.to(dtype), y.to(dtype)).item()
    got = loss((x * scales).to(dtype), (y * scales.flip(0)).to(dtype)).item()
    assert got == pytest.approx(expected, rel=1e-12 if dtype == torch.float64 else 1e-6)


@pytest.mark.parametrize("name", LOSSES_OF_ROWS)
def test_loss_grad_is_orthogonal_to_the_rows(name):
    """The losses depend on the rows' directions only, so scaling a row changes nothing."""
    x = (_unit_rows(5, 3, 15) * 3.0).requires_grad_(True)
    LOSSES_OF_ROWS[name](x, _unit_rows(5, 3, 16)).backward()
    radial = (x.grad * x.detach()).sum(dim=1)
    assert radial.abs().max().item() < 1e-12
