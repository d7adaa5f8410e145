"""hyperssl.geometry against loops over pairs, and its float32 and finite-gradient guarantees."""

import math

import pytest
import torch
import torch.nn.functional as F
from loop_formulas import FORMULAS

from hyperssl import ConfigError
from hyperssl.geometries import GEOMETRIES, create_geometry
from hyperssl.geometry import (
    cosine_to_similarity,
    paired_similarity,
    safe_arccos,
    similarity,
)


def _unit_rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=generator, dtype=torch.float64), dim=1).to(dtype)


def _loop_similarity(x: torch.Tensor, y: torch.Tensor, geometry: str) -> list[list[float]]:
    rows, cols = x.double().tolist(), y.double().tolist()
    formula = FORMULAS[geometry]
    return [[formula(sum(p * q for p, q in zip(a, b, strict=True))) for b in cols] for a in rows]


@pytest.mark.parametrize("geometry", FORMULAS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("n", "m", "d"), [(1, 1, 2), (4, 3, 5), (7, 7, 3)])
def test_similarity_matches_loop_over_pairs(geometry, dtype, n, m, d):
    x, y = _unit_rows(n, d, 0, dtype), _unit_rows(m, d, 1, dtype)
    expected = torch.tensor(_loop_similarity(x, y, geometry), dtype=torch.float64)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    torch.testing.assert_close(similarity(x, y, geometry).double(), expected, atol=tol, rtol=0)


@pytest.mark.parametrize("geometry", FORMULAS)
def test_paired_similarity_is_the_diagonal_of_the_loop(geometry):
    x, y = _unit_rows(5, 4, 2), _unit_rows(5, 4, 3)
    loop = _loop_similarity(x, y, geometry)
    expected = torch.tensor([loop[i][i] for i in range(5)], dtype=torch.float64)
    torch.testing.assert_close(paired_similarity(x, y, geometry), expected, atol=1e-12, rtol=0)


def test_unknown_geometry_raises_config_error_naming_key_and_allowed():
    x = _unit_rows(2, 3, 0)
    with pytest.raises(ConfigError) as info:
        similarity(x, x, "hyperbolic")
    assert info.value.key == "geometry"
    assert info.value.allowed == ", ".join(GEOMETRIES.names())
    assert "'hyperbolic'" in str(info.value)


@pytest.mark.parametrize(
    "geometry",
    [{"name": "tvmf", "kappa": 2.0}, create_geometry({"name": "tvmf", "kappa": 2.0})],
    ids=["config", "object"],
)
def test_similarity_takes_a_config_or_a_geometry_object(geometry):
    x, y = _unit_rows(3, 4, 7), _unit_rows(2, 4, 8)
    cos = (x @ y.T).tolist()
    expected = [[(1 + c) / (1 + 2 * (1 - c)) - 1 for c in row] for row in cos]
    expected = torch.tensor(expected, dtype=torch.float64)
    torch.testing.assert_close(similarity(x, y, geometry), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("geometry", FORMULAS)
def test_cosine_to_similarity_of_half_cosines_is_float32(geometry):
    cos = torch.tensor([-0.5, 0.0, 0.75], dtype=torch.bfloat16)
    got = cosine_to_similarity(cos, geometry)
    assert got.dtype == torch.float32
    expected = [FORMULAS[geometry](c) for c in cos.float().tolist()]
    assert got.tolist() == pytest.approx(expected, abs=1e-6)


def test_geodesic_similarity_of_orthogonal_and_antipodal_points():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    s = similarity(x, x, "geodesic")
    assert s[0, 1].item() == pytest.approx(0.5, abs=1e-7)
    assert s[0, 2].item() == pytest.approx(0.0, abs=1e-3)  # clamped: θ = π - 4.9e-4


def test_safe_arccos_matches_acos_inside_and_clamps_at_machine_epsilon():
    cos = torch.tensor([-0.5, 0.0, 0.3, 1.0, -1.0], dtype=torch.float64)
    theta = safe_arccos(cos)
    torch.testing.assert_close(theta[:3], torch.acos(cos[:3]))
    eps = torch.finfo(torch.float64).eps
    assert theta[3].item() == pytest.approx(math.acos(1 - eps), rel=1e-12)
    assert theta[4].item() == pytest.approx(math.acos(-1 + eps), rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_safe_arccos_grad_finite_at_plus_and_minus_one(dtype):
    cos = torch.tensor([1.0, -1.0, 1.0 - 1e-7, 0.2], dtype=dtype, requires_grad=True)
    safe_arccos(cos).sum().backward()
    assert torch.isfinite(cos.grad).all()
    assert cos.grad[:2].tolist() == [0.0, 0.0]
    assert cos.grad[3].item() == pytest.approx(-1 / math.sqrt(1 - 0.04), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_safe_arccos_gradient_is_the_derivative_at_and_inside_the_clamp_and_zero_beyond(dtype):
    """GCL's rule, autograd through its clamp as PyTorch had it: -1/sqrt(1 - c²) for
    |c| <= 1 - ε, the bounds included, and 0 for |c| > 1 - ε (c = 1 - kε/2, 1 + ε, ±)."""
    eps = torch.finfo(dtype).eps
    values = [1 - k * eps / 2 for k in range(5)] + [1 + eps, 0.3]
    cos = torch.tensor(values + [-v for v in values], dtype=dtype, requires_grad=True)
    safe_arccos(cos).sum().backward()
    exact = cos.detach().double().tolist()
    expected = [-1 / math.sqrt(1 - c * c) if abs(c) <= 1 - eps else 0.0 for c in exact]
    assert cos.grad.double().tolist() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_safe_arccos_of_half_input_is_float32_and_gradient_finite(dtype):
    cos = torch.tensor([1.0, -1.0, 0.9, 0.0], dtype=dtype, requires_grad=True)
    theta = safe_arccos(cos)
    theta.sum().backward()
    assert theta.dtype == torch.float32
    torch.testing.assert_close(theta[2:], torch.acos(cos[2:].detach().float()))
    assert torch.isfinite(cos.grad.float()).all()


def test_similarity_under_bfloat16_autocast_is_computed_in_float32():
    x, y = _unit_rows(6, 16, 4, torch.float32), _unit_rows(5, 16, 5, torch.float32)
    expected = similarity(x, y, "geodesic")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = similarity(x, y, "geodesic")
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_similarity_grad_finite_for_duplicated_and_antipodal_rows(geometry):
    base = _unit_rows(3, 4, 6, torch.float32)
    x = torch.cat([base, base[:1], -base[:1]]).requires_grad_(True)
    similarity(x, x, geometry).sum().backward()
    assert torch.isfinite(x.grad).all()
