"""NNCLR: the support-set search and the loss against the paper's formulas, the gradient reaching
the predictions only, and the support set filled FIFO with the first view's projections."""

import math

import pytest
import torch
import torch.nn.functional as F
from hydra_runs import TINY, compose_pretrain, run_pretrain
from method_steps import training_step

from hyperssl.errors import ConfigError
from hyperssl.heads import StepOutput, build_head
from hyperssl.losses.nnclr import nearest_neighbours, nnclr_loss
from hyperssl.methods import create_method
from hyperssl.validation import validate_pretrain


def _unit(rows: list[list[float]]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float64), dim=1)


def _paper_loss(nn: torch.Tensor, p: torch.Tensor, tau: float, angular: bool) -> float:
    """Eq. 3 of Dwibedi et al. 2021 term by term, with s = cos θ or 1 - θ/π."""
    nn, p = nn.tolist(), p.tolist()

    def s(a: list[float], b: list[float]) -> float:
        cos = sum(x * y for x, y in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)
        return 1 - math.acos(max(-1.0, min(1.0, cos))) / math.pi if angular else cos

    terms = [
        -math.log(math.exp(s(n, p[i]) / tau) / sum(math.exp(s(n, q) / tau) for q in p))
        for i, n in enumerate(nn)
    ]
    return sum(terms) / len(terms)


@pytest.mark.parametrize("geometry", ["cosine", "geodesic", "tvmf"])
def test_nearest_neighbour_is_the_support_row_at_the_smallest_angle(geometry):
    support = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, 0]])
    z = torch.tensor([[0.2, 3.0, 0.1], [-2.0, -1.5, 0.0], [0.1, 0.2, 0.9]], dtype=torch.float64)
    expected = support[[1, 3, 2]]
    torch.testing.assert_close(nearest_neighbours(z, support, geometry), expected)


def test_nearest_neighbour_search_carries_no_gradient():
    z = torch.randn(4, 3, requires_grad=True)
    found = nearest_neighbours(z, F.normalize(torch.randn(6, 3), dim=1))
    assert not found.requires_grad


def test_cosine_loss_is_the_papers_cross_entropy_over_the_predictions():
    torch.manual_seed(0)
    nn, p = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    expected = _paper_loss(nn, p, 0.3, angular=False)
    assert nnclr_loss(nn, p, 0.3).item() == pytest.approx(expected, rel=1e-12)


def test_geodesic_loss_takes_one_minus_the_angle_over_pi_as_the_similarity():
    torch.manual_seed(1)
    nn, p = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    expected = _paper_loss(nn, p, 0.2, angular=True)
    assert nnclr_loss(nn, p, 0.2, "geodesic").item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("geometry", ["cosine", "geodesic", "tvmf"])
def test_gradient_reaches_the_predictions_and_not_the_neighbours(geometry):
    torch.manual_seed(2)
    nn = torch.randn(6, 8, requires_grad=True)
    p = torch.randn(6, 8)
    p[0] = 3 * nn[0].detach()  # a prediction on its neighbour: θ = 0, where arccos is singular
    p.requires_grad_(True)
    nnclr_loss(nn, p, 0.2, geometry).backward()
    assert nn.grad is None
    assert torch.isfinite(p.grad).all() and (p.grad[1:].norm(dim=1) > 0).all()


def test_float64_inputs_give_a_float64_loss():
    nn, p = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert nnclr_loss(nn, p, 0.2, "geodesic").dtype == torch.float64


def test_loss_is_float32_under_bfloat16_autocast():
    nn, p = torch.randn(4, 3), torch.randn(4, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert nnclr_loss(nn, p, 0.2, "geodesic").dtype == torch.float32


def test_head_pairs_each_views_neighbour_with_the_other_views_predictions():
    support = _unit([[1, 0], [0, 1], [-1, 0]])
    z1 = torch.tensor([[2.0, 0.1], [0.1, 1.0]], dtype=torch.float64)  # -> rows 0, 1
    z2 = torch.tensor([[-1.0, 0.2], [0.9, -0.1]], dtype=torch.float64)  # -> rows 2, 0
    p1 = torch.tensor([[1.0, 1.0], [1.0, -2.0]], dtype=torch.float64)
    p2 = torch.tensor([[0.5, -1.0], [-1.0, 3.0]], dtype=torch.float64)
    out = StepOutput(labels=torch.arange(2), z=[z1, z2], p=[p1, p2], state={"support_set": support})
    head = build_head("nnclr", {"temperature": 0.5})
    expected = (
        _paper_loss(support[[0, 1]], p2, 0.5, angular=False)
        + _paper_loss(support[[2, 0]], p1, 0.5, angular=False)
    ) / 2
    assert head(out).item() == pytest.approx(expected, rel=1e-12)


def test_queue_size_must_be_a_multiple_of_the_global_batch(tmp_path):
    cfg = compose_pretrain([*TINY, "method=nnclr", "method.queue_size=40"], tmp_path)
    with pytest.raises(ConfigError, match="method.queue_size"):
        validate_pretrain(cfg)


def test_support_set_receives_the_first_views_normalised_projections(tmp_path):
    overrides = [*TINY, "method=nnclr", "method.queue_size=32", "method.predictor.hidden_dim=8"]
    model = create_method(compose_pretrain(overrides, tmp_path))
    before = model.support_set.items.clone()
    training_step(model, batch=8, seed=0)
    assert torch.equal(model.support_set.items, before)  # nothing written before backward
    model.support_set.push_staged()

    torch.manual_seed(0)
    first_view = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        z1 = F.normalize(model.projector(model.backbone(first_view)), dim=1)
    torch.testing.assert_close(model.support_set.items[0, :8], z1)
    torch.testing.assert_close(model.support_set.items[0, 8:], before[0, 8:])


def test_geodesic_nnclr_trains_and_checkpoints_its_support_set_fifo(tmp_path):
    summary = run_pretrain(
        [
            "method=nnclr",
            "geometry=geodesic",
            "method.queue_size=32",
            "method.predictor.hidden_dim=16",
        ],
        tmp_path,
    )
    assert math.isfinite(summary["train/nnclr"])
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    # 3 steps of 16 rows into 32: the pointer wrapped once to 16.
    assert int(state["support_set.ptr"]) == 16 and int(state["support_set.written"]) == 48
    norms = state["support_set.items"].norm(dim=2)
    torch.testing.assert_close(norms, torch.ones_like(norms))
