"""Barlow Twins: the loss against the paper's formula written out by hand, the standardisation
over the whole batch, the mean over view pairs, and the warning when geometry= cannot change the
objective (shared with VICReg)."""

import itertools
import logging
import math

import pytest
import torch
from hydra_runs import TINY, compose_pretrain, run_pretrain

from hyperssl import ConfigError
from hyperssl.heads import StepOutput, build_head
from hyperssl.losses.redundancy import barlow_twins_loss, cross_correlation
from hyperssl.methods import METHODS, create_method

# Zero-mean, orthogonal ±1 columns with unit (biased) variance: rows 2-4 of the 4x4 Hadamard
# matrix, transposed. Their cross-correlation with themselves is the identity (up to ε).
DECORRELATED = torch.tensor(
    [[1.0, 1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]],
    dtype=torch.float64,
)


def _views(n: int = 6, d: int = 4, dtype=torch.float64, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=generator, dtype=dtype)
    return z_a, z_a + 0.5 * torch.randn(n, d, generator=generator, dtype=dtype)


def _by_hand(z_a, z_b, lam, scale, eps=1e-5) -> float:
    """Eq. 1 with C from per-dimension loops: C_ij = Σ_b â_bi b̂_bj / N, â = (a - mean)/sqrt(var
    + ε) with the biased variance, as BatchNorm1d(affine=False) standardises."""
    n, d = z_a.shape

    def standardised(z, i):
        column = [z[b, i].item() for b in range(n)]
        mean = sum(column) / n
        var = sum((x - mean) ** 2 for x in column) / n
        return [(x - mean) / math.sqrt(var + eps) for x in column]

    a = [standardised(z_a, i) for i in range(d)]
    b = [standardised(z_b, j) for j in range(d)]
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(a[i][k] * b[j][k] for k in range(n)) / n
            loss += (1 - c) ** 2 if i == j else lam * c**2
    return scale * loss


def test_loss_equals_equation_1_computed_by_hand_in_float64():
    z_a, z_b = _views()
    expected = _by_hand(z_a, z_b, lam=0.0051, scale=0.1)
    assert barlow_twins_loss(z_a, z_b).item() == pytest.approx(expected, rel=1e-12)
    expected = _by_hand(z_a, z_b, lam=0.3, scale=2.0)
    assert barlow_twins_loss(z_a, z_b, lam=0.3, scale_loss=2.0).item() == pytest.approx(
        expected, rel=1e-12
    )


def test_cross_correlation_is_equation_2s_normalised_correlation_up_to_epsilon():
    z_a, z_b = _views(n=32, d=5)
    a, b = z_a - z_a.mean(0), z_b - z_b.mean(0)
    paper = (a.T @ b) / torch.outer(a.norm(dim=0), b.norm(dim=0))
    torch.testing.assert_close(cross_correlation(z_a, z_b), paper, rtol=1e-4, atol=1e-5)


def test_identity_cross_correlation_gives_zero_loss_and_scaling_leaves_it_there():
    # Standardisation makes the loss blind to each dimension's offset and (positive) scale.
    shifted = 3.0 * DECORRELATED + torch.tensor([1.0, -2.0, 5.0], dtype=torch.float64)
    assert barlow_twins_loss(DECORRELATED, shifted).item() == pytest.approx(0.0, abs=1e-9)


def test_redundant_dimensions_cost_lambda_times_their_squared_correlation():
    z = DECORRELATED.clone()
    z[:, 2] = z[:, 1]  # C_12 = C_21 = 1 besides the unit diagonal; C_02 = C_20 = 0
    expected = 0.1 * 0.0051 * 2.0
    assert barlow_twins_loss(z, z).item() == pytest.approx(expected, rel=1e-4)


def test_gradients_are_finite_and_reach_both_views():
    z_a, z_b = (z.float().requires_grad_() for z in _views())
    barlow_twins_loss(z_a, z_b).backward()
    for z in (z_a, z_b):
        assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_float64_in_float64_out():
    assert barlow_twins_loss(*_views()).dtype == torch.float64


def test_loss_is_float32_under_bfloat16_autocast():
    z_a, z_b = (torch.nn.Linear(4, 4)(z.float()) for z in _views())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = barlow_twins_loss(z_a.bfloat16(), z_b.bfloat16())
    assert loss.dtype == torch.float32


def test_statistics_are_over_the_whole_batch_given_not_each_half():
    # What makes 2 processes equal one on the concatenated batch: the head reads the gathered z.
    z_a, z_b = _views(n=8)
    halves = [barlow_twins_loss(z_a[s], z_b[s]) for s in (slice(0, 4), slice(4, 8))]
    whole = barlow_twins_loss(z_a, z_b)
    assert whole.item() == pytest.approx(_by_hand(z_a, z_b, 0.0051, 0.1), rel=1e-12)
    assert whole.item() != pytest.approx(torch.stack(halves).mean().item(), rel=1e-3)


def test_head_takes_the_mean_over_unordered_view_pairs():
    views = [_views(seed=s)[0] for s in range(3)]
    head = build_head("barlow_twins", {"lam": 0.01, "scale_loss": 0.5})
    out = StepOutput(labels=torch.arange(6), z=views)
    pairs = [barlow_twins_loss(a, b, 0.01, 0.5) for a, b in itertools.combinations(views, 2)]
    torch.testing.assert_close(head(out), torch.stack(pairs).mean())
    two = StepOutput(labels=torch.arange(6), z=views[:2])
    torch.testing.assert_close(head(two), barlow_twins_loss(*views[:2], 0.01, 0.5))


def test_schema_defaults_are_the_paper_and_solo_learn_cifar_recipe():
    node = METHODS.config_node("barlow_twins")
    assert (node.lam, node.scale_loss) == (0.0051, 0.1)
    projector = node.projector
    assert (projector.hidden_dim, projector.output_dim, projector.num_layers) == (2048, 2048, 3)
    assert projector.hidden_batch_norm and not projector.last_batch_norm


def test_a_negative_lambda_is_refused_naming_the_method_key(tmp_path):
    cfg = compose_pretrain([*TINY, "method=barlow_twins", "method.lam=-1"], tmp_path)
    with pytest.raises(ConfigError, match=r"method\.lam: got -1"):
        METHODS.validate("barlow_twins", cfg.method, cfg, "method")


@pytest.mark.parametrize("method", ["barlow_twins", "vicreg"])
def test_a_geometry_the_objective_ignores_warns_once(method, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        create_method(compose_pretrain([*TINY, f"method={method}", "geometry=geodesic"], tmp_path))
    warnings = [r for r in caplog.records if "does not read geometry=geodesic" in r.message]
    assert len(warnings) == 1 and method in warnings[0].message


@pytest.mark.parametrize(
    "overrides", [["geometry=cosine"], ["geometry=geodesic", "heads=[nt_xent]"]]
)
def test_no_warning_with_cosine_or_an_added_head(overrides, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        create_method(compose_pretrain([*TINY, "method=barlow_twins", *overrides], tmp_path))
    assert not [r for r in caplog.records if "does not read geometry" in r.message]


def test_trains_with_the_geodesic_geometry_and_an_added_uniformity_head(tmp_path):
    summary = run_pretrain(
        ["method=barlow_twins", "geometry=geodesic", "heads=[uniformity]"], tmp_path
    )
    assert math.isfinite(summary["train/barlow_twins"]) and summary["train/barlow_twins"] > 0
    assert math.isfinite(summary["train/uniformity"])
