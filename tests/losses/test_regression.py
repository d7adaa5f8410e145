"""BYOL's loss: values against a loop, direction of its gradient, finite gradients."""

import math

import pytest
import torch
import torch.nn.functional as F

from hyperssl.geometries import GEOMETRIES
from hyperssl.losses import byol_loss

# BYOL's squared distance of each geometry as a function of cos θ (t-vMF at its default κ = 16).
SQUARED_DISTANCES = {
    "cosine": lambda c: 2 - 2 * c,
    "geodesic": lambda c: math.acos(c) ** 2,
    "tvmf": lambda c: 2 - 2 * ((1 + c) / (1 + 16 * (1 - c)) - 1),
}


def _rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64).to(dtype)


def _loop_byol(p: torch.Tensor, z: torch.Tensor, geometry: str) -> float:
    total = 0.0
    for a, b in zip(p.tolist(), z.tolist(), strict=True):
        cos = sum(x * y for x, y in zip(a, b, strict=True))
        cos /= math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
        total += SQUARED_DISTANCES[geometry](cos)
    return total / p.shape[0]


@pytest.mark.parametrize("geometry", SQUARED_DISTANCES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("batch", "dim"), [(1, 2), (5, 7)])
def test_byol_loss_matches_loop(geometry, dtype, batch, dim):
    p, z = _rows(batch, dim, 0, dtype), _rows(batch, dim, 1, dtype)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert byol_loss(p, z, geometry).item() == pytest.approx(_loop_byol(p, z, geometry), abs=tol)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_minimising_byol_loss_over_p_drives_cos_to_one(geometry):
    """The GCL fork's geodesic variant, (2/π) cos θ, would drive cos θ to -1 here."""
    z = _rows(4, 3, 2, torch.float32)
    p = _rows(4, 3, 3, torch.float32).requires_grad_(True)
    optimizer = torch.optim.SGD([p], lr=0.5)
    for _ in range(300):
        optimizer.zero_grad()
        byol_loss(p, z, geometry).backward()
        optimizer.step()
    cos = F.cosine_similarity(p.detach(), z, dim=1)
    assert cos.min().item() > 0.999


def test_geodesic_byol_loss_decreases_as_p_moves_toward_z():
    z = F.normalize(_rows(3, 4, 4), dim=1)
    start = F.normalize(_rows(3, 4, 5), dim=1)
    losses = [byol_loss((1 - s) * start + s * z, z, "geodesic").item() for s in (0, 0.25, 0.5, 1)]
    assert losses == sorted(losses, reverse=True)
    assert losses[-1] == pytest.approx(0.0, abs=1e-12)


def test_geodesic_byol_loss_is_squared_angle_of_orthogonal_pair():
    p, z = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    assert byol_loss(p, z, "geodesic").item() == pytest.approx((math.pi / 2) ** 2, rel=1e-6)


def test_byol_loss_leaves_the_target_gradient_to_the_caller():
    p = _rows(3, 4, 6).requires_grad_(True)
    z = _rows(3, 4, 7).requires_grad_(True)
    byol_loss(p, z).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_byol_loss_grad_finite_for_identical_and_antipodal_pairs(geometry, sign):
    z = _rows(3, 4, 8, torch.float32)
    p = (sign * z).requires_grad_(True)
    byol_loss(p, z, geometry).backward()
    assert torch.isfinite(p.grad).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_byol_loss_of_half_inputs_is_float32_with_finite_grad(geometry, dtype):
    p = _rows(4, 8, 9, dtype).requires_grad_(True)
    z = _rows(4, 8, 10, dtype)
    loss = byol_loss(p, z, geometry)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(p.grad.float()).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_byol_loss_under_bfloat16_autocast_is_float32(geometry):
    predictor = torch.nn.Linear(6, 4)
    x, z = _rows(5, 6, 11, torch.float32), _rows(5, 4, 12, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        p = predictor(x)
        loss = byol_loss(p, z, geometry)
    loss.backward()
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(byol_loss(p.float(), z, geometry).item())
    assert torch.isfinite(predictor.weight.grad).all()
