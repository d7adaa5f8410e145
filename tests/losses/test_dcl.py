"""DCL and DCLW (Yeh et al. 2022) against loops written from the paper's formulas, their
gradients, their precision and their heads."""

import math

import pytest
import torch
import torch.nn.functional as F
from loop_formulas import rows as _rows
from loop_formulas import sim as _sim
from loop_formulas import unit as _unit

from hyperssl import ConfigError
from hyperssl.geometries import GEOMETRIES
from hyperssl.geometry import paired_similarity
from hyperssl.heads import StepOutput, build_head
from hyperssl.losses import dcl_loss, dclw_loss, nt_xent_views


def _loop_dcl_two_views(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float, geometry: str, sigma: float | None
) -> float:
    """Yeh et al. Eq. 6 term by term, L_i^(k) = -w_i s(z_i^(1), z_i^(2))/τ
    + log Σ_{l ∈ {1,2}, j ≠ i} exp(s(z_i^(k), z_j^(l))/τ), averaged over i and k; w_i = 1 (DCL)
    or 2 - exp(s_i/σ) / ((1/B) Σ_j exp(s_j/σ)) with s_i = s(z_i^(1), z_i^(2)) (DCLW)."""
    views = [[_unit(row) for row in z.tolist()] for z in (z1, z2)]
    batch = len(views[0])
    positive = [_sim(views[0][i], views[1][i], geometry) for i in range(batch)]
    weights = [1.0] * batch
    if sigma is not None:
        mean = sum(math.exp(s / sigma) for s in positive) / batch
        weights = [2 - math.exp(s / sigma) / mean for s in positive]
    total = 0.0
    for k in range(2):
        for i in range(batch):
            negatives = sum(
                math.exp(_sim(views[k][i], views[view][j], geometry) / temperature)
                for view in range(2)
                for j in range(batch)
                if j != i
            )
            total += -weights[i] * positive[i] / temperature + math.log(negatives)
    return total / (2 * batch)


def _loop_dcl_views(
    views: list[torch.Tensor], temperature: float, geometry: str, sigma: float | None
) -> float:
    """V views: each anchor's positives are its sample in the other views (weighted as in
    DCLW, the mean over every ordered positive pair), its negatives the other samples in every
    view; the positive terms of an anchor are averaged."""
    batch = views[0].shape[0]
    points = [(b, _unit(view[b].tolist())) for view in views for b in range(batch)]
    pairs = [
        (i, p)
        for i, (b, _) in enumerate(points)
        for p, (c, _) in enumerate(points)
        if i != p and b == c
    ]
    similarity = {(i, p): _sim(points[i][1], points[p][1], geometry) for i, p in pairs}
    weight = dict.fromkeys(pairs, 1.0)
    if sigma is not None:
        mean = sum(math.exp(s / sigma) for s in similarity.values()) / len(pairs)
        weight = {pair: 2 - math.exp(s / sigma) / mean for pair, s in similarity.items()}
    total = 0.0
    for i, (b_i, z_i) in enumerate(points):
        negatives = sum(
            math.exp(_sim(z_i, z_k, geometry) / temperature) for b_k, z_k in points if b_k != b_i
        )
        mine = [pair for pair in pairs if pair[0] == i]
        positive = sum(weight[pair] * similarity[pair] / temperature for pair in mine) / len(mine)
        total += math.log(negatives) - positive
    return total / len(points)


def _loss(name: str, views, temperature: float = 0.2, geometry: str = "cosine", sigma=0.5):
    if name == "dcl":
        return dcl_loss(views, temperature, geometry)
    return dclw_loss(views, temperature, sigma, geometry)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("batch", "dim", "temperature"), [(2, 3, 0.5), (5, 4, 0.1)])
def test_dcl_two_views_matches_the_papers_loop(geometry, dtype, batch, dim, temperature):
    z1, z2 = _rows(batch, dim, 0, dtype), _rows(batch, dim, 1, dtype)
    expected = _loop_dcl_two_views(z1, z2, temperature, geometry, sigma=None)
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    assert dcl_loss([z1, z2], temperature, geometry).item() == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("sigma", [0.5, 0.2])
def test_dclw_two_views_matches_the_papers_loop(geometry, dtype, sigma):
    z1, z2 = _rows(5, 4, 2, dtype), _rows(5, 4, 3, dtype)
    expected = _loop_dcl_two_views(z1, z2, 0.1, geometry, sigma)
    tol = 1e-10 if dtype == torch.float64 else 5e-5
    assert dclw_loss([z1, z2], 0.1, sigma, geometry).item() == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("sigma", [None, 0.5])
@pytest.mark.parametrize("num_views", [2, 3])
def test_dcl_views_matches_the_loop_over_views(geometry, sigma, num_views):
    views = [_rows(3, 4, seed) for seed in range(num_views)]
    expected = _loop_dcl_views(views, 0.3, geometry, sigma)
    name = "dcl" if sigma is None else "dclw"
    assert _loss(name, views, 0.3, geometry).item() == pytest.approx(expected, abs=1e-10)


def test_dcl_is_nt_xent_without_the_positive_in_the_denominator():
    """log(e^a + n) > log n: NT-Xent exceeds DCL by -log p of the positive among its
    denominator, log(1 + e^ℓ⁺ / Σ_neg e^ℓ), at every anchor."""
    z1, z2 = _rows(4, 3, 4), _rows(4, 3, 5)
    assert nt_xent_views([z1, z2], 0.2).item() > dcl_loss([z1, z2], 0.2).item()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("num_views", [2, 3])
def test_dcl_gradcheck(geometry, num_views):
    """DCLW's gradient is not its value's derivative (its weights are held fixed): see below."""
    views = tuple(_rows(3, 3, seed).requires_grad_(True) for seed in range(num_views))
    assert torch.autograd.gradcheck(lambda *v: dcl_loss(v, 0.3, geometry), views)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_dclw_gradient_holds_the_weights_fixed(geometry):
    """DCLW's gradient is that of DCL's negatives minus the positives weighted by w held fixed
    (lightly's choice; gradcheck confirms that reference numerically), not the one through the
    softmax of the weights (Ramin Nakhli's)."""
    z1 = _rows(4, 3, 6).requires_grad_(True)
    z2 = _rows(4, 3, 7).requires_grad_(True)
    temperature, sigma = 0.2, 0.5
    grads = torch.autograd.grad(dclw_loss([z1, z2], temperature, sigma, geometry), [z1, z2])

    def positive(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return paired_similarity(F.normalize(a, dim=1), F.normalize(b, dim=1), geometry)

    def weights(s: torch.Tensor) -> torch.Tensor:
        return 2 - torch.exp(s / sigma) / torch.exp(s / sigma).mean()

    def reference(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        s = positive(a, b)
        negatives = dcl_loss([a, b], temperature, geometry) + (s / temperature).mean()
        return negatives - ((weights(s) if w is None else w) * s / temperature).mean()

    fixed = weights(positive(z1, z2)).detach()
    assert torch.autograd.gradcheck(lambda a, b: reference(a, b, fixed), (z1, z2))
    held = torch.autograd.grad(reference(z1, z2, fixed), [z1, z2])
    through = torch.autograd.grad(reference(z1, z2), [z1, z2])
    for got, expected, moving in zip(grads, held, through, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
        assert (got - moving).abs().max() > 1e-3


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("name", ["dcl", "dclw"])
def test_dcl_grad_finite_for_duplicated_and_antipodal_rows(geometry, name):
    base = _rows(3, 4, 8, torch.float32)
    z1 = torch.cat([base, base[:1], -base[1:2]]).requires_grad_(True)  # a duplicate, an antipode
    z2 = torch.cat([z1.detach()[:3], -z1.detach()[3:]]).requires_grad_(True)  # same / opposite
    loss = _loss(name, [z1, z2], 0.2, geometry)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("name", ["dcl", "dclw"])
def test_dcl_under_bfloat16_autocast_is_float32_with_finite_grad(geometry, name):
    projector = torch.nn.Linear(8, 6)
    x = _rows(5, 8, 9, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z1, z2 = projector(x), projector(torch.cat([x[:1], x[:-1]]))  # sample 0 twice in view 2
        loss = _loss(name, [z1, z2], 0.2, geometry)
    loss.backward()
    assert z1.dtype == torch.bfloat16 and loss.dtype == torch.float32
    expected = _loss(name, [z1.float(), z2.float()], 0.2, geometry)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.isfinite(projector.weight.grad).all()


@pytest.mark.parametrize("name", ["dcl", "dclw"])
def test_dcl_of_float64_views_is_float64(name):
    assert _loss(name, [_rows(3, 4, 10), _rows(3, 4, 11)]).dtype == torch.float64


@pytest.mark.parametrize(
    ("views", "values", "message"),
    [
        ([_rows(3, 4, 12)], {}, "at least 2 views"),
        ([_rows(3, 4, 12), _rows(2, 4, 13)], {}, "same shape"),
        ([_rows(1, 4, 12), _rows(1, 4, 13)], {}, "at least 2 samples"),
        ([_rows(3, 4, 12), _rows(3, 4, 13)], {"temperature": 0.0}, "temperature"),
        ([_rows(3, 4, 12), _rows(3, 4, 13)], {"sigma": -1.0}, "sigma"),
    ],
)
def test_dclw_rejects_bad_arguments(views, values, message):
    with pytest.raises(ValueError, match=message):
        dclw_loss(views, **values)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_dcl_heads_are_the_losses_on_the_steps_views(geometry):
    views = [_rows(4, 5, 14), _rows(4, 5, 15), _rows(4, 5, 16)]
    out = StepOutput(labels=torch.full((4,), -1), z=views)
    dcl = build_head("dcl", {"temperature": 0.3}, geometry)
    assert dcl(out).item() == dcl_loss(views, 0.3, geometry).item()
    dclw = build_head("dclw", {"temperature": 0.3, "sigma": 0.7}, geometry)
    assert dclw(out).item() == dclw_loss(views, 0.3, 0.7, geometry).item()


def test_dcl_heads_default_to_the_papers_values():
    assert build_head("dcl").config.temperature == 0.1
    config = build_head("dclw").config
    assert (config.temperature, config.sigma) == (0.1, 0.5)


@pytest.mark.parametrize(
    ("name", "values", "key"),
    [
        ("dcl", {"temperature": 0.0}, "heads.dcl.temperature"),
        ("dclw", {"temperature": -0.1}, "heads.dclw.temperature"),
        ("dclw", {"sigma": 0.0}, "heads.dclw.sigma"),
    ],
)
def test_dcl_heads_reject_non_positive_values_naming_the_key(name, values, key):
    with pytest.raises(ConfigError) as info:
        build_head(name, values)
    assert info.value.key == key and info.value.allowed == "> 0"
