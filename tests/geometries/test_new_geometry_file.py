"""A new geometry is one class and one registration: the losses work with it unchanged."""

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from geometry_references import reference_byol, reference_info_nce_queue, reference_nt_xent

from hyperssl import ConfigError
from hyperssl.geometries import (
    GEOMETRIES,
    Geometry,
    GeometryConfig,
    create_geometry,
    register_geometry,
)
from hyperssl.losses import byol_loss, info_nce_queue, nt_xent


@dataclass
class ScaledCosineConfig(GeometryConfig):
    name: str = "scaled_cosine"
    a: float = 2.0


class ScaledCosineGeometry(Geometry):
    """s = a·cos θ: the cosine at temperature T/a, a constant derivative a."""

    def __init__(self, config: ScaledCosineConfig) -> None:
        super().__init__(config)
        self.a = config.a
        self.derivative_scale = config.a

    def similarity(self, cos: torch.Tensor) -> torch.Tensor:
        return self.a * cos

    def squared_distance(self, cos: torch.Tensor) -> torch.Tensor:
        return self.a * (2.0 - 2.0 * cos)

    def logits_(self, cos: torch.Tensor, scale: float) -> torch.Tensor:
        return cos.mul_(self.a * scale)

    def derivative(self, cos: torch.Tensor) -> None:
        return None


@pytest.fixture
def scaled_cosine():
    """Registered for one test only."""
    register_geometry("scaled_cosine", ScaledCosineConfig)(ScaledCosineGeometry)
    yield "scaled_cosine"
    del GEOMETRIES._entries["scaled_cosine"]


def _rows(n: int, d: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64)


def test_registered_geometry_is_listed_and_created_by_name(scaled_cosine):
    assert scaled_cosine in GEOMETRIES.names()
    geometry = create_geometry({"name": scaled_cosine, "a": 3.0})
    assert isinstance(geometry, ScaledCosineGeometry) and geometry.a == 3.0


def test_nt_xent_of_the_new_geometry_matches_the_reference_and_the_cosine_at_t_over_a(
    scaled_cosine,
):
    z1, z2 = _rows(5, 4, 0), _rows(5, 4, 1)
    geometry = create_geometry(scaled_cosine)
    loss = nt_xent(z1, z2, 0.2, scaled_cosine).item()
    assert loss == pytest.approx(reference_nt_xent([z1, z2], 0.2, geometry).item(), abs=1e-12)
    assert loss == pytest.approx(nt_xent(z1, z2, 0.1, "cosine").item(), abs=1e-12)


def test_nt_xent_gradient_of_the_new_geometry_matches_the_reference(scaled_cosine):
    geometry = create_geometry({"name": scaled_cosine, "a": 3.0})
    z = _rows(8, 3, 2).requires_grad_(True)
    (got,) = torch.autograd.grad(nt_xent(z[:4], z[4:], 0.3, geometry), z)
    (expected,) = torch.autograd.grad(reference_nt_xent([z[:4], z[4:]], 0.3, geometry), z)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_info_nce_queue_and_byol_loss_of_the_new_geometry_match_the_references(scaled_cosine):
    geometry = create_geometry(scaled_cosine)
    q, k, queue = _rows(3, 4, 3), _rows(3, 4, 4), F.normalize(_rows(6, 4, 5), dim=1)
    assert info_nce_queue(q, k, queue, 0.2, scaled_cosine).item() == pytest.approx(
        reference_info_nce_queue(q, k, queue, 0.2, geometry).item(), abs=1e-12
    )
    assert byol_loss(q, k, scaled_cosine).item() == pytest.approx(
        reference_byol(q, k, geometry).item(), abs=1e-12
    )


def test_unknown_geometry_error_lists_the_new_geometry(scaled_cosine):
    with pytest.raises(ConfigError) as info:
        create_geometry("hyperbolic")
    assert scaled_cosine in info.value.allowed.split(", ")
