"""t-vMF (Kobayashi, CVPR 2021): hand-computed values, κ = 0 is the cosine, κ must be >= 0."""

import math

import pytest
import torch

from hyperssl import ConfigError
from hyperssl.geometries import create_geometry
from hyperssl.geometries.tvmf import TVMFConfig
from hyperssl.losses import byol_loss, info_nce_queue, nt_xent


def _rows(n: int, d: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64)


def test_tvmf_similarity_at_kappa_16_by_hand():
    """(1 + c)/(1 + 16(1 - c)) - 1: c = 0.5 gives 1.5/9 - 1, c = 0 gives 1/17 - 1."""
    tvmf = create_geometry("tvmf")
    cos = torch.tensor([1.0, 0.5, 0.0, -1.0], dtype=torch.float64)
    assert tvmf.similarity(cos).tolist() == pytest.approx([1.0, -5 / 6, -16 / 17, -1.0])


def test_tvmf_derivative_at_kappa_16_by_hand():
    """ds/dcos = (1 + 2κ)/(1 + κ(1 - c))²: 33/81 at c = 0.5, 33 at c = 1."""
    tvmf = create_geometry("tvmf")
    cos = torch.tensor([0.5, 1.0], dtype=torch.float64)
    got = tvmf.derivative_scale * tvmf.derivative(cos)
    assert got.tolist() == pytest.approx([33 / 81, 33.0])


def test_tvmf_with_kappa_0_is_the_cosine():
    z1, z2, queue = _rows(4, 3, 0), _rows(4, 3, 1), torch.nn.functional.normalize(_rows(5, 3, 2))
    flat = TVMFConfig(kappa=0.0)
    assert nt_xent(z1, z2, 0.2, flat).item() == pytest.approx(
        nt_xent(z1, z2, 0.2, "cosine").item(), abs=1e-12
    )
    assert info_nce_queue(z1, z2, queue, 0.2, flat).item() == pytest.approx(
        info_nce_queue(z1, z2, queue, 0.2, "cosine").item(), abs=1e-12
    )
    assert byol_loss(z1, z2, flat).item() == pytest.approx(
        byol_loss(z1, z2, "cosine").item(), abs=1e-12
    )


def test_tvmf_nt_xent_of_two_orthogonal_samples_by_hand():
    """Views z1 = z2 = (e1, e2): each anchor's positive has s(1) = 1 and its two negatives
    s(0) = 1/17 - 1 = -16/17, so every anchor's loss is log(1 + 2 exp(-(1 + 16/17)/T))."""
    z = torch.eye(2, dtype=torch.float64)
    expected = math.log(1 + 2 * math.exp(-(33 / 17) / 0.5))
    assert nt_xent(z, z.clone(), 0.5, "tvmf").item() == pytest.approx(expected, rel=1e-12)


def test_negative_kappa_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as info:
        create_geometry({"name": "tvmf", "kappa": -1.0})
    assert info.value.key == "geometry.kappa"
    assert info.value.allowed == ">= 0"
