"""SupCon's L_out (Khosla et al. 2020, Eq. 2) against a loop written from the paper's formula,
its unlabelled samples, gradients, precision and head."""

import math

import pytest
import torch
from loop_formulas import rows as _rows
from loop_formulas import sim as _sim
from loop_formulas import unit as _unit

from hyperssl import ConfigError
from hyperssl.geometries import GEOMETRIES
from hyperssl.heads import StepOutput, build_head
from hyperssl.losses import nt_xent_views, supcon_loss

LABELS = [2, 0, 2, -1, 0, -1]  # two classes of two, two unlabelled samples


def _loop_supcon(views: list[torch.Tensor], labels: list[int], temperature: float, geometry: str):
    """Eq. 2 averaged over the anchors: -(1/|P(i)|) Σ_p log(exp(ℓ_ip) / Σ_{a ≠ i} exp(ℓ_ia)),
    P(i) the other points of i's class; an unlabelled sample (-1) is a class of its own."""
    batch = views[0].shape[0]
    points = [(b, _unit(view[b].tolist())) for view in views for b in range(batch)]

    def same_class(b: int, c: int) -> bool:
        return b == c or (labels[b] == labels[c] and labels[b] != -1)

    total = 0.0
    for i, (b_i, z_i) in enumerate(points):
        denominator = sum(
            math.exp(_sim(z_i, z_a, geometry) / temperature)
            for a, (_, z_a) in enumerate(points)
            if a != i
        )
        log_probabilities = [
            _sim(z_i, z_p, geometry) / temperature - math.log(denominator)
            for p, (b_p, z_p) in enumerate(points)
            if p != i and same_class(b_i, b_p)
        ]
        total += -sum(log_probabilities) / len(log_probabilities)
    return total / len(points)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("num_views", [2, 3])
def test_supcon_matches_the_papers_loop(geometry, dtype, num_views):
    views = [_rows(6, 4, seed, dtype) for seed in range(num_views)]
    expected = _loop_supcon(views, LABELS, 0.1, geometry)
    tol = 1e-10 if dtype == torch.float64 else 5e-5
    got = supcon_loss(views, torch.tensor(LABELS), 0.1, geometry).item()
    assert got == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("num_views", [2, 3])
@pytest.mark.parametrize("labels", [[-1] * 5, [0, 1, 2, 3, 4]], ids=["unlabelled", "distinct"])
def test_supcon_without_shared_labels_is_nt_xent_mean_log_prob(geometry, num_views, labels):
    views = [_rows(5, 3, 10 + seed) for seed in range(num_views)]
    got = supcon_loss(views, torch.tensor(labels), 0.3, geometry)
    expected = nt_xent_views(views, 0.3, geometry, positives="mean_log_prob")
    assert got.item() == pytest.approx(expected.item(), abs=1e-12)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("num_views", [2, 3])
def test_supcon_gradcheck(geometry, num_views):
    views = tuple(_rows(4, 3, seed).requires_grad_(True) for seed in range(num_views))
    labels = torch.tensor([1, -1, 1, 0])
    assert torch.autograd.gradcheck(lambda *v: supcon_loss(v, labels, 0.3, geometry), views)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_supcon_grad_finite_for_duplicated_and_antipodal_rows(geometry):
    base = _rows(3, 4, 30, torch.float32)
    z1 = torch.cat([base, base[:1], -base[1:2]]).requires_grad_(True)  # a duplicate, an antipode
    z2 = torch.cat([z1.detach()[:3], -z1.detach()[3:]]).requires_grad_(True)  # same / opposite
    loss = supcon_loss([z1, z2], torch.tensor([0, 1, -1, 0, 1]), 0.1, geometry)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_supcon_under_bfloat16_autocast_is_float32_with_finite_grad(geometry):
    projector = torch.nn.Linear(8, 6)
    x = _rows(5, 8, 31, torch.float32)
    labels = torch.tensor([0, 1, 0, -1, 1])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z1, z2 = projector(x), projector(torch.cat([x[:1], x[:-1]]))  # sample 0 twice in view 2
        loss = supcon_loss([z1, z2], labels, 0.1, geometry)
    loss.backward()
    assert z1.dtype == torch.bfloat16 and loss.dtype == torch.float32
    expected = supcon_loss([z1.float(), z2.float()], labels, 0.1, geometry)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.isfinite(projector.weight.grad).all()


def test_supcon_of_float64_views_is_float64():
    loss = supcon_loss([_rows(3, 4, 32), _rows(3, 4, 33)], torch.tensor([0, 0, 1]))
    assert loss.dtype == torch.float64


@pytest.mark.parametrize(
    ("views", "labels", "temperature", "message"),
    [
        ([_rows(3, 4, 34)], [0, 1, 2], 0.1, "at least 2 views"),
        ([_rows(3, 4, 34), _rows(2, 4, 35)], [0, 1, 2], 0.1, "same shape"),
        ([_rows(3, 4, 34), _rows(3, 4, 35)], [0, 1], 0.1, "labels must be"),
        ([_rows(3, 4, 34), _rows(3, 4, 35)], [0, 1, 2], 0.0, "temperature"),
    ],
)
def test_supcon_rejects_bad_arguments(views, labels, temperature, message):
    with pytest.raises(ValueError, match=message):
        supcon_loss(views, torch.tensor(labels), temperature)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_supcon_head_is_the_loss_on_the_steps_views_and_labels(geometry):
    views = [_rows(6, 5, 36), _rows(6, 5, 37)]
    labels = torch.tensor(LABELS)
    head = build_head("supcon", {"temperature": 0.3}, geometry)
    assert head.inputs == ("z", "labels")
    got = head(StepOutput(labels=labels, z=views)).item()
    assert got == supcon_loss(views, labels, 0.3, geometry).item()


def test_supcon_head_defaults_to_the_papers_temperature():
    assert build_head("supcon").config.temperature == 0.1


def test_supcon_head_rejects_a_non_positive_temperature_naming_the_key():
    with pytest.raises(ConfigError) as info:
        build_head("supcon", {"temperature": -0.5})
    assert info.value.key == "heads.supcon.temperature" and info.value.allowed == "> 0"
