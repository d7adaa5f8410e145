"""The Wasserstein uniformity against the paper's formula computed in float64 with NumPy's
eigenvalues, at degenerate batches, and the paper's point against Wang & Isola's L_uniform."""

import math

import numpy as np
import pytest
import torch

from hyperssl.heads import StepOutput, build_head
from hyperssl.losses import uniform_loss, wasserstein_uniformity


def _rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64).to(dtype)


def _reference_w2(x: torch.Tensor) -> float:
    """sqrt(||μ||² + 1 + tr(Σ) - (2/√m) tr(Σ^{1/2})) of the normalised rows, μ and Σ (with 1/B,
    as the paper's code) by loops, tr(Σ^{1/2}) = Σ_k sqrt(λ_k) from NumPy's eigenvalues."""
    rows = [[a / math.sqrt(sum(b * b for b in row)) for a in row] for row in x.tolist()]
    batch, dim = len(rows), len(rows[0])
    mean = [sum(row[k] for row in rows) / batch for k in range(dim)]
    cov = [
        [sum((row[k] - mean[k]) * (row[c] - mean[c]) for row in rows) / batch for c in range(dim)]
        for k in range(dim)
    ]
    eigenvalues = np.linalg.eigvalsh(np.array(cov))
    trace_sqrt = sum(math.sqrt(max(value, 0.0)) for value in eigenvalues)
    w2_squared = (
        sum(a * a for a in mean)
        + 1
        + sum(cov[k][k] for k in range(dim))
        - 2 / math.sqrt(dim) * trace_sqrt
    )
    return math.sqrt(w2_squared)


@pytest.mark.parametrize("shape", [(8, 3), (5, 7), (16, 16), (40, 6)])
def test_wasserstein_uniformity_matches_reference(shape):
    """rel 1e-8: for B <= m the reference's zero eigenvalues come out as ±1e-17, whose square
    roots add ~1e-9 to its tr(Σ^{1/2}); the singular values of the centred rows do not."""
    x = _rows(*shape, seed=0) * 2.0
    assert wasserstein_uniformity(x).item() == pytest.approx(_reference_w2(x), rel=1e-8)


def test_wasserstein_uniformity_in_float32_matches_float64():
    x = _rows(64, 16, seed=1)
    expected = wasserstein_uniformity(x).item()
    assert wasserstein_uniformity(x.float()).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_wasserstein_uniformity_gradcheck(shape):
    """Also for B <= m, where the centred rows always have a zero singular value (its singular
    vector is the all-ones one, which the centring removes from the gradient)."""
    x = _rows(*shape, seed=2).requires_grad_(True)
    assert torch.autograd.gradcheck(wasserstein_uniformity, (x,))


def test_wasserstein_uniformity_of_float64_is_float64():
    assert wasserstein_uniformity(_rows(5, 3, seed=3)).dtype == torch.float64


def _degenerate_batches() -> dict[str, torch.Tensor]:
    base = _rows(4, 6, seed=4, dtype=torch.float32)
    return {
        # Copies, a negation, a zero row: Σ singular with a repeated zero eigenvalue (B < m).
        "duplicate_antipodal": torch.cat([base, base[:2], -base[2:3], torch.zeros(1, 6)]),
        "collapsed": base[:1].repeat(8, 1),  # Σ = 0
        "antipodal_pairs": torch.cat([torch.eye(6), -torch.eye(6)]),  # Σ = I/m: W2 = 0
    }


@pytest.mark.parametrize("case", ["duplicate_antipodal", "collapsed", "antipodal_pairs"])
def test_wasserstein_uniformity_degenerate_batches_finite_in_float32(case):
    x = _degenerate_batches()[case].requires_grad_(True)
    loss = wasserstein_uniformity(x)
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("case", ["duplicate_antipodal", "collapsed", "antipodal_pairs"])
def test_wasserstein_uniformity_degenerate_batches_under_bfloat16_autocast(case):
    x = _degenerate_batches()[case].requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = torch.nn.functional.linear(x, torch.eye(6))  # a bfloat16 activation
        loss = wasserstein_uniformity(z)
    loss.backward()
    assert z.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_wasserstein_uniformity_extremes():
    """One point: μ = x̂, Σ = 0, W2 = √2. ±e_k: μ = 0, Σ = I/m, W2 = 0 (up to the clamp)."""
    batches = _degenerate_batches()
    assert wasserstein_uniformity(batches["collapsed"].double()).item() == pytest.approx(
        math.sqrt(2.0), rel=1e-12
    )
    assert wasserstein_uniformity(batches["antipodal_pairs"].double()).item() < 1e-7


def test_wasserstein_uniformity_is_invariant_to_replicating_the_batch():
    """With Σ over 1/B (the paper's code), two copies of a batch have the same μ and Σ: the
    paper's instance cloning property."""
    x = _rows(10, 4, seed=5)
    once, twice = wasserstein_uniformity(x), wasserstein_uniformity(torch.cat([x, x]))
    assert twice.item() == pytest.approx(once.item(), rel=1e-12)


def test_wasserstein_uniformity_without_grad_is_the_same_value():
    x = _rows(30, 8, seed=6, dtype=torch.float32).requires_grad_(True)
    with torch.no_grad():
        value = wasserstein_uniformity(x)
    assert value.item() == pytest.approx(wasserstein_uniformity(x).item(), rel=1e-6)


def test_dimensional_collapse_shows_in_w2_not_in_uniform_loss():
    """The paper's point (Sec. 5): 512 rows uniform on S^127 against 512 rows uniform on the
    S^31 of the first 32 coordinates (75% of the dimensions collapsed). W2 nearly quadruples;
    Wang & Isola's L_uniform (t = 2) moves by under 5%."""
    generator = torch.Generator().manual_seed(7)
    uniform = torch.randn(512, 128, generator=generator, dtype=torch.float64)
    collapsed = torch.zeros(512, 128, dtype=torch.float64)
    collapsed[:, :32] = torch.randn(512, 32, generator=generator, dtype=torch.float64)
    w2_uniform, w2_collapsed = wasserstein_uniformity(uniform), wasserstein_uniformity(collapsed)
    lu_uniform, lu_collapsed = uniform_loss(uniform), uniform_loss(collapsed)
    assert ((w2_collapsed - w2_uniform) / w2_uniform).item() > 2.5
    assert ((lu_collapsed - lu_uniform) / lu_uniform.abs()).item() < 0.05


def test_wasserstein_uniformity_head_is_w2_of_the_views_together():
    views = [_rows(6, 4, seed=seed) for seed in (8, 9)]
    out = StepOutput(labels=torch.zeros(6, dtype=torch.long), z=views)
    loss = build_head("wasserstein_uniformity")(out)
    expected = wasserstein_uniformity(torch.cat(views))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
