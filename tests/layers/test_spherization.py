"""The spherization layer against the hyperspherical-coordinate formula, and its guarantees."""

import math

import pytest
import torch

from hyperssl import ConfigError
from hyperssl.layers import SphericConv2d, SphericLinear, Spherization


def _rows(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)


def _loop_spherize(x: torch.Tensor, scaling: float, radius: float, delta: float) -> list:
    n = x.shape[1]
    lower = math.asin(delta ** (1 / n))
    out = []
    for row in x.tolist():
        angles = [(math.pi / 2 - lower) / (1 + math.exp(-scaling * v)) + lower for v in row]
        coords, sines = [], 1.0
        for theta in angles:
            coords.append(radius * sines * math.cos(theta))
            sines *= math.sin(theta)
        out.append([*coords, radius * sines])
    return out


@pytest.mark.parametrize(("n", "scaling", "radius"), [(1, 1.0, 1.0), (4, 5.0, 5.0), (9, 2.0, 0.5)])
def test_spherization_matches_hyperspherical_coordinates_loop(n, scaling, radius):
    x = _rows((3, n), 0)
    layer = Spherization(n, scaling=scaling, radius=radius)
    expected = torch.tensor(_loop_spherize(x, scaling, radius, 1e-6), dtype=torch.float64)
    torch.testing.assert_close(layer(x), expected, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("magnitude", [1.0, 10.0, 100.0])
def test_spherization_output_has_norm_radius_and_positive_coordinates(dtype, magnitude):
    x = magnitude * _rows((8, 16), 1, dtype)
    y = Spherization(16, radius=3.0)(x)
    assert y.shape == (8, 17)
    assert (y > 0).all()
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(y.norm(dim=1), torch.full((8,), 3.0, dtype=dtype), atol=tol, rtol=0)


def test_spherization_last_coordinate_is_at_least_radius_times_delta():
    x = torch.full((1, 6), -50.0, dtype=torch.float64)  # every angle at its lower bound
    y = Spherization(6, radius=2.0, delta=1e-4)(x)
    assert y[0, -1].item() == pytest.approx(2.0 * 1e-4, rel=1e-9)


@pytest.mark.parametrize("magnitude", [1.0, 30.0, 1000.0])
def test_spherization_grad_finite_for_extreme_inputs(magnitude):
    x = (magnitude * _rows((4, 5), 2, torch.float32)).requires_grad_(True)
    layer = Spherization(5, lrable="TT")
    layer(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(layer.scaling.grad) and torch.isfinite(layer.radius.grad)


@pytest.mark.parametrize(("lrable", "scaling_is_param", "radius_is_param"), [
    ("TF", True, False), ("FT", False, True), ("TT", True, True), ("FF", False, False),
])  # fmt: skip
def test_lrable_letters_choose_learnable_scaling_and_radius(
    lrable, scaling_is_param, radius_is_param
):
    layer = Spherization(3, lrable=lrable)
    names = {name for name, _ in layer.named_parameters()}
    assert ("scaling" in names) == scaling_is_param
    assert ("radius" in names) == radius_is_param
    assert set(layer.state_dict()) == {"scaling", "radius"}


@pytest.mark.parametrize("lrable", ["T", "TFF", "tf", "TX"])
def test_invalid_lrable_raises_config_error(lrable):
    with pytest.raises(ConfigError) as info:
        Spherization(3, lrable=lrable)
    assert info.value.key == "lrable"


def test_spherization_spherizes_dimension_one_of_feature_maps():
    x = _rows((2, 3, 4, 5), 3)
    layer = Spherization(3)
    flat = layer(x.permute(0, 2, 3, 1).reshape(-1, 3))
    torch.testing.assert_close(layer(x), flat.reshape(2, 4, 5, 4).permute(0, 3, 1, 2))


def test_spheric_linear_is_spherization_then_bias_free_linear():
    layer = SphericLinear(6, 3)
    x = _rows((4, 6), 4, torch.float32)
    assert layer.linear.bias is None and layer.linear.in_features == 7
    torch.testing.assert_close(layer(x), layer.spherization(x) @ layer.linear.weight.T)


def test_spheric_conv2d_spherizes_channels_then_convolves_without_bias():
    layer = SphericConv2d(3, 8, kernel_size=3, padding=1)
    x = _rows((2, 3, 5, 5), 5, torch.float32)
    assert layer.conv.bias is None and layer.conv.in_channels == 4
    out = layer(x)
    assert out.shape == (2, 8, 5, 5)
    expected = torch.nn.functional.conv2d(layer.spherization(x), layer.conv.weight, padding=1)
    torch.testing.assert_close(out, expected)


def test_spherization_under_bfloat16_autocast_keeps_norm_and_positivity():
    layer = SphericLinear(4, 2, radius=5.0)
    projector = torch.nn.Linear(8, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = projector(_rows((3, 8), 6, torch.float32))
        sphere = layer.spherization(features)
        out = layer(features)
    out.float().sum().backward()
    assert (sphere > 0).all()
    torch.testing.assert_close(sphere.float().norm(dim=1), torch.full((3,), 5.0), atol=0.05, rtol=0)
    assert torch.isfinite(projector.weight.grad).all()
