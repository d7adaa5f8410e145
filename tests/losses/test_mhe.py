"""MHE energies against a loop transcribing the reference code's formula, pair by pair."""

import math

import pytest
import torch
import torch.nn.functional as F

from hyperssl import ConfigError
from hyperssl.losses import MHE_POWERS, mhe_embedding_energy, mhe_energies, mhe_energy


def _rows(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)


def _loop_energy(weight: torch.Tensor, power: str, half_space: bool, eps: float = 1e-4) -> float:
    """The reference's energy; its normalization w / sqrt(||w||² + eps), eps = 0 for unit rows."""
    neurons = weight.reshape(weight.shape[0], -1).tolist()
    if half_space:
        neurons += [[-a for a in w] for w in neurons]
    points = [[a / math.sqrt(sum(b * b for b in w) + eps) for a in w] for w in neurons]
    energies = []
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            cos = sum(a * b for a, b in zip(points[i], points[j], strict=True))
            if power.startswith("a"):
                angle = math.acos(cos) / math.pi + 1e-4
                energies.append(-math.log(angle) if power == "a0" else angle ** -int(power[1]))
            else:
                sq_dist = 2 - 2 * cos
                energies.append(
                    -math.log(sq_dist) if power == "0" else sq_dist ** -(int(power) / 2)
                )
    return sum(energies) / len(energies)


@pytest.mark.parametrize("power", MHE_POWERS)
@pytest.mark.parametrize("half_space", [False, True])
@pytest.mark.parametrize("shape", [(2, 3), (5, 4), (4, 2, 3, 3)])
def test_mhe_energy_matches_reference_loop(power, half_space, shape):
    weight = _rows(shape, 0)
    expected = _loop_energy(weight, power, half_space)
    got = mhe_energy(weight, power, half_space).item()
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("power", MHE_POWERS)
def test_mhe_energy_in_float32_matches_float64(power):
    weight = _rows((6, 5), 1)
    expected = mhe_energy(weight, power, True).item()
    assert mhe_energy(weight.float(), power, True).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("power", MHE_POWERS)
def test_mhe_energy_is_lower_for_orthogonal_than_nearly_parallel_neurons(power):
    orthogonal = torch.eye(4)
    nearly_parallel = torch.ones(4, 4) + 0.05 * torch.eye(4)
    assert mhe_energy(orthogonal, power).item() < mhe_energy(nearly_parallel, power).item()


@pytest.mark.parametrize("power", MHE_POWERS)
@pytest.mark.parametrize("half_space", [False, True])
def test_mhe_energy_grad_finite_for_duplicated_and_antipodal_neurons(power, half_space):
    base = _rows((3, 4), 2, torch.float32)
    weight = torch.cat([base, base[:1], -base[:1], 100 * base[1:2]]).requires_grad_(True)
    energy = mhe_energy(weight, power, half_space)
    energy.backward()
    assert torch.isfinite(energy) and torch.isfinite(weight.grad).all()


def test_mhe_energies_of_stacked_layers_equal_each_layer_energy():
    weights = _rows((3, 5, 4), 3)
    expected = torch.stack([mhe_energy(w, "a1", True) for w in weights])
    torch.testing.assert_close(mhe_energies(weights, "a1", True), expected)


def test_mhe_energy_of_one_neuron_is_zero_and_half_space_counts_its_negation():
    weight = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    assert mhe_energy(weight, "0").item() == 0.0
    sq_dist = 2 + 2 * 25 / (25 + 1e-4)  # w and -w, after the reference's normalization
    assert mhe_energy(weight, "0", True).item() == pytest.approx(-math.log(sq_dist), rel=1e-12)


@pytest.mark.parametrize("power", MHE_POWERS)
def test_mhe_embedding_energy_is_the_energy_of_the_unit_rows(power):
    z = _rows((6, 3), 4)
    expected = _loop_energy(z, power, half_space=False, eps=0.0)
    assert mhe_embedding_energy(z, power).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_mhe_embedding_energy_of_raw_rows_equals_that_of_normalized_rows(dtype):
    """Rows of norm 1e-3 to 1e3 are the same points on the sphere as their normalized rows."""
    z = _rows((6, 5), 8)
    scales = torch.logspace(-3, 3, 6, dtype=torch.float64)[:, None]
    raw, unit = (z * scales).to(dtype), F.normalize(z, dim=1).to(dtype)
    rel = 1e-12 if dtype == torch.float64 else 1e-6
    for power in MHE_POWERS:
        expected = mhe_embedding_energy(unit, power).item()
        assert mhe_embedding_energy(raw, power).item() == pytest.approx(expected, rel=rel)


@pytest.mark.parametrize("power", MHE_POWERS)
def test_mhe_embedding_energy_grad_finite_for_a_zero_row(power):
    z = torch.cat([_rows((4, 3), 9, torch.float32), torch.zeros(1, 3)]).requires_grad_(True)
    energy = mhe_embedding_energy(z, power)
    energy.backward()
    assert torch.isfinite(energy) and torch.isfinite(z.grad).all()


def test_mhe_accepts_the_yaml_integer_power():
    weight = _rows((3, 2), 5)
    assert mhe_energy(weight, 0).item() == mhe_energy(weight, "0").item()


def test_mhe_unknown_power_raises_config_error():
    with pytest.raises(ConfigError) as info:
        mhe_energy(_rows((3, 2), 6), "3")
    assert info.value.key == "power"
    assert info.value.allowed == "0, 1, 2, a0, a1, a2"


def test_mhe_energy_under_bfloat16_autocast_is_float32():
    weight = _rows((5, 4), 7, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        energy = mhe_energy(weight, "a0")
    assert energy.dtype == torch.float32
    assert energy.item() == pytest.approx(mhe_energy(weight, "a0").item())
