"""KoLeo against a loop over the rows written from the paper's formula, and at degenerate rows."""

import math

import pytest
import torch

from hyperssl import ConfigError
from hyperssl.heads import StepOutput, build_head
from hyperssl.losses import koleo_loss


def _rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64).to(dtype)


def _loop_koleo(x: torch.Tensor, eps: float) -> float:
    """-(1/n) Σ_i log(ρ_i + ε) with ρ_i = min_{j≠i} ||x̂_i - x̂_j + ε|| (the nearest row by
    Euclidean distance; DINOv2's ε inside the distance and the log, 0 for the paper's formula)."""
    rows = x.tolist()
    unit = [[a / max(math.sqrt(sum(b * b for b in row)), eps) for a in row] for row in rows]

    def distance(u: list[float], v: list[float]) -> float:
        return math.sqrt(sum((a - b + eps) ** 2 for a, b in zip(u, v, strict=True)))

    total = 0.0
    for i, u in enumerate(unit):
        # The neighbour by the Euclidean distance itself, without ε.
        _, nearest = min((math.dist(u, v), j) for j, v in enumerate(unit) if j != i)
        total += -math.log(distance(u, unit[nearest]) + eps)
    return total / len(unit)


@pytest.mark.parametrize("eps", [1e-8, 0.0])
@pytest.mark.parametrize("shape", [(2, 3), (7, 4), (12, 16)])
def test_koleo_matches_reference_loop(shape, eps):
    x = _rows(*shape, seed=0) * 3.0
    assert koleo_loss(x, eps).item() == pytest.approx(_loop_koleo(x, eps), rel=1e-12)


def test_koleo_gradcheck():
    x = _rows(5, 3, seed=1).requires_grad_(True)
    assert torch.autograd.gradcheck(koleo_loss, (x,))


def test_koleo_of_float64_is_float64():
    assert koleo_loss(_rows(4, 3, seed=2)).dtype == torch.float64


def _degenerate_rows() -> torch.Tensor:
    """Two copies of a row, a row and its negation, a zero row, among generic rows."""
    base = _rows(4, 5, seed=3, dtype=torch.float32)
    return torch.cat([base, base[:1], -base[1:2], torch.zeros(1, 5)])


def test_koleo_duplicate_and_antipodal_rows_finite_in_float32():
    x = _degenerate_rows().requires_grad_(True)
    loss = koleo_loss(x)
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    # The copies are each other's neighbour at ρ = ε √D: -log(ε (√5 + 1)) each.
    assert loss.item() > 2 * -math.log(1e-8 * (math.sqrt(5) + 1)) / x.shape[0]


def test_koleo_duplicate_and_antipodal_rows_under_bfloat16_autocast_is_float32_and_finite():
    x = _degenerate_rows().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = torch.nn.functional.linear(x, torch.eye(5))  # a bfloat16 activation
        loss = koleo_loss(z)
    loss.backward()
    assert z.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_koleo_two_antipodal_rows_are_each_others_neighbour():
    """DINOv2's diagonal fill of -1 ties with the antipodal row's dot product; -inf does not."""
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    assert koleo_loss(x, eps=0.0).item() == pytest.approx(-math.log(2.0), rel=1e-12)


def test_koleo_near_duplicates_in_float32_match_float64():
    """Rows 1e-5 apart: their distance is taken from the float64 normalised rows, not lost to the
    ~6e-8 rounding of float32 ones."""
    base = _rows(6, 32, seed=4, dtype=torch.float32)
    x = torch.cat([base, base[:3] + 1e-5 * _rows(3, 32, seed=5, dtype=torch.float32)])
    expected = koleo_loss(x.double()).item()
    assert koleo_loss(x).item() == pytest.approx(expected, rel=1e-6)


def test_koleo_needs_two_rows():
    with pytest.raises(ValueError, match="at least 2 rows"):
        koleo_loss(_rows(1, 3, seed=6))


def test_koleo_head_is_the_mean_over_the_large_views():
    views = [_rows(6, 4, seed=seed) for seed in range(7, 11)]
    out = StepOutput(labels=torch.zeros(6, dtype=torch.long), z=views, num_large_views=2)
    head = build_head("koleo", {"eps": 1e-6})
    expected = (koleo_loss(views[0], 1e-6) + koleo_loss(views[1], 1e-6)) / 2
    assert head(out).item() == pytest.approx(expected.item(), rel=1e-12)
    assert head.weight == 0.2  # DINOv2's 0.1 x its sum over two global crops


def test_koleo_head_rejects_non_positive_eps():
    with pytest.raises(ConfigError, match="heads.koleo.eps"):
        build_head("koleo", {"eps": 0.0})
