"""SphereFace, CosFace and ArcFace against the papers' formulas written out here, and their
guarantees: margin on the target only, in training only, finite gradients, precision."""

import math

import pytest
import torch

from hyperssl import ConfigError
from hyperssl.layers import ArcFace, CosFace, SphereFace
from hyperssl.layers.angular_margin import ArcFaceConfig, CosFaceConfig, SphereFaceConfig

CLASSES = 5


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def _cosines(x: torch.Tensor, weight: torch.Tensor) -> list[list[float]]:
    rows, classes = x.tolist(), [_unit(w) for w in weight.tolist()]
    return [
        [sum(a * b for a, b in zip(_unit(row), w, strict=True)) for w in classes] for row in rows
    ]


def _sphereface_psi(theta: float, m: int) -> float:
    """ψ(θ) = (-1)^k cos(mθ) - 2k on θ ∈ [kπ/m, (k+1)π/m] (Liu et al. 2017)."""
    k = min(int(m * theta / math.pi), m - 1)
    return (-1) ** k * math.cos(m * theta) - 2 * k


def _arcface_psi(theta: float, m: float) -> float:
    """cos(θ + m), and insightface's cos θ - m sin m once θ + m >= π."""
    return math.cos(theta + m) if theta + m < math.pi else math.cos(theta) - m * math.sin(m)


def _inputs(seed: int, batch: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = 3.0 * torch.randn(batch, 4, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, CLASSES, (batch,), generator=generator)
    return x, labels


def _layer(cls: type, seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return cls(4, CLASSES, **kwargs).double().train()


def _expected(layer, x, labels, psi) -> list[list[float]]:
    """s cos θ_j off the target, s ψ(θ_y) on it (s = ||x|| when the layer has no scale)."""
    out, cosines = [], _cosines(x, layer.weight)
    for row, cos_row, label in zip(x.tolist(), cosines, labels.tolist(), strict=True):
        scale = math.sqrt(sum(v * v for v in row)) if layer.scale is None else layer.scale
        out.append(
            [scale * (psi(math.acos(c)) if j == label else c) for j, c in enumerate(cos_row)]
        )
    return out


def test_cosface_target_logit_is_s_times_cos_minus_m():
    layer = _layer(CosFace, scale=64.0, margin=0.35)
    x, labels = _inputs(0)
    expected = _expected(layer, x, labels, lambda theta: math.cos(theta) - 0.35)
    torch.testing.assert_close(layer(x, labels), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("margin", [0.5, 1.2])
def test_arcface_target_logit_is_s_cos_theta_plus_m_with_the_reference_fallback(margin):
    layer = _layer(ArcFace, scale=30.0, margin=margin)
    x, labels = _inputs(1, batch=40)
    expected = _expected(layer, x, labels, lambda theta: _arcface_psi(theta, margin))
    cosines = _cosines(x, layer.weight)
    thetas = [math.acos(row[y]) for row, y in zip(cosines, labels.tolist(), strict=True)]
    assert 0 < sum(t + margin >= math.pi for t in thetas) < len(thetas)  # both branches
    torch.testing.assert_close(layer(x, labels), torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("margin", [1, 2, 3, 4])
def test_sphereface_psi_matches_the_piecewise_formula_on_every_segment(margin):
    layer = _layer(SphereFace, margin=margin)
    thetas = [(k + fraction) * math.pi / margin for k in range(margin) for fraction in (0.1, 0.6)]
    cos = torch.tensor([math.cos(t) for t in thetas], dtype=torch.float64)
    expected = torch.tensor([_sphereface_psi(t, margin) for t in thetas], dtype=torch.float64)
    torch.testing.assert_close(layer.psi(cos), expected)


def test_sphereface_target_mixes_lambda_cos_and_psi_with_the_feature_norm():
    layer = _layer(SphereFace, margin=4, lambda_base=10.0, lambda_gamma=0.5, lambda_min=1.0)
    x, labels = _inputs(2)
    lam = 10.0 / (1 + 0.5 * 1)  # the first training forward is step 1
    psi = lambda theta: (lam * math.cos(theta) + _sphereface_psi(theta, 4)) / (1 + lam)  # noqa: E731
    expected = _expected(layer, x, labels, psi)
    torch.testing.assert_close(layer(x, labels), torch.tensor(expected, dtype=torch.float64))


def test_sphereface_with_a_scale_reads_s_instead_of_the_feature_norm():
    layer = _layer(SphereFace, scale=16.0, margin=2, lambda_base=0.0, lambda_min=0.0)
    x, labels = _inputs(3)
    expected = _expected(layer, x, labels, lambda theta: _sphereface_psi(theta, 2))
    torch.testing.assert_close(layer(x, labels), torch.tensor(expected, dtype=torch.float64))


def test_sphereface_lambda_follows_the_reference_schedule_step_by_step():
    layer = _layer(SphereFace)  # base 1000, gamma 0.12, power 1, lambda_min 5
    x, labels = _inputs(4)
    for step in range(1, 4):
        layer(x, labels)
        assert int(layer.iteration) == step
        assert layer.annealing().item() == pytest.approx(1000.0 / (1 + 0.12 * step), rel=1e-6)
    layer.iteration.fill_(10_000)
    assert layer.annealing().item() == 5.0  # 1000 / 1201 < lambda_min


def test_sphereface_step_counter_survives_a_state_dict_round_trip_and_not_eval():
    layer = _layer(SphereFace)
    x, labels = _inputs(5)
    for _ in range(3):
        layer(x, labels)
    layer.eval()
    layer(x, labels)  # evaluation: no margin, no step
    restored = _layer(SphereFace, seed=1)
    restored.load_state_dict(layer.state_dict())
    assert int(restored.iteration) == 3
    torch.testing.assert_close(restored.train()(x, labels), layer.train()(x, labels))


@pytest.mark.parametrize("cls", [SphereFace, CosFace, ArcFace])
def test_no_margin_without_labels_in_eval_mode_or_for_label_minus_one(cls):
    layer = _layer(cls, scale=8.0)
    x, labels = _inputs(6)
    plain = 8.0 * torch.tensor(_cosines(x, layer.weight), dtype=torch.float64)
    torch.testing.assert_close(layer(x), plain)
    torch.testing.assert_close(layer.eval()(x, labels), plain)
    unlabelled = labels.clone()
    unlabelled[::2] = -1
    trained = layer.train()(x, unlabelled).detach()
    changed = ~torch.isclose(trained, plain)
    targets = torch.nn.functional.one_hot(labels, CLASSES).bool()
    targets[::2] = False
    assert torch.equal(changed, targets)
    assert (trained[changed] < plain[changed]).all()


@pytest.mark.parametrize("cls", [SphereFace, CosFace, ArcFace])
@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_gradient_is_finite_for_a_feature_on_or_opposite_its_class_weight(cls, autocast, direction):
    layer = _layer(cls).float()
    labels = torch.tensor([0, 1, 2])
    x = (direction * 2.0 * layer.weight.detach()[labels]).clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logits = layer(x, labels)
    assert logits.dtype == torch.float32
    torch.nn.functional.cross_entropy(logits, labels).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("cls", [SphereFace, CosFace, ArcFace])
def test_float64_in_float64_out_and_gradcheck(cls):
    layer = _layer(cls, scale=4.0)
    if cls is SphereFace:  # a constant λ = 1: it would change between gradcheck's evaluations
        layer.lambda_base, layer.lambda_gamma, layer.lambda_min = 1.0, 0.0, 0.0
    x, labels = _inputs(7, batch=3)
    x.requires_grad_(True)
    assert layer(x, labels).dtype == torch.float64
    assert torch.autograd.gradcheck(lambda v: layer(v, labels), (x,))


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (CosFaceConfig(scale=0.0), "method.cosface.scale"),
        (CosFaceConfig(margin=-0.1), "method.cosface.margin"),
        (ArcFaceConfig(margin=4.0), "method.arcface.margin"),
        (SphereFaceConfig(margin=0), "method.sphereface.margin"),
        (SphereFaceConfig(scale=-1.0), "method.sphereface.scale"),
        (SphereFaceConfig(lambda_min=-1.0), "method.sphereface.lambda_min"),
    ],
)
def test_bad_values_raise_a_config_error_naming_the_key(config, key):
    with pytest.raises(ConfigError) as info:
        config.validate(None, key.rsplit(".", 1)[0])
    assert info.value.key == key
    assert "\n" not in str(info.value)
