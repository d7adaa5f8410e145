"""VICReg: each term and the weighted objective against the paper's formulas written out by hand,
the hinge's behaviour at and below γ, the mean over view pairs, and the three logged terms."""

import itertools
import math

import pytest
import torch
from hydra_runs import TINY, compose_pretrain, run_pretrain
from method_steps import training_step

from hyperssl.heads import StepOutput, build_head
from hyperssl.losses.redundancy import (
    covariance_loss,
    invariance_loss,
    variance_loss,
    vicreg_loss,
    vicreg_terms,
)
from hyperssl.methods import METHODS, create_method


def _views(n: int = 6, d: int = 4, dtype=torch.float64, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=generator, dtype=dtype)
    return z_a, 0.3 * z_a + 0.2 * torch.randn(n, d, generator=generator, dtype=dtype)


def _column(z, j) -> list[float]:
    return [z[b, j].item() for b in range(z.shape[0])]


def _by_hand(z_a, z_b, lam, mu, nu, gamma=1.0, eps=1e-4) -> tuple[float, float, float, float]:
    """Eq. 1-6 with loops: s = Σ_b ||a_b - b_b||² / (N D) (the code's MSE), v = mean_j
    max(0, γ - sqrt(Var_j + ε)) with the unbiased variance, c = Σ_{i≠j} Cov_ij² / D."""
    n, d = z_a.shape
    s = sum((z_a[b, j].item() - z_b[b, j].item()) ** 2 for b in range(n) for j in range(d))
    s /= n * d

    def v(z):
        total = 0.0
        for j in range(d):
            x = _column(z, j)
            mean = sum(x) / n
            var = sum((xi - mean) ** 2 for xi in x) / (n - 1)
            total += max(0.0, gamma - math.sqrt(var + eps))
        return total / d

    def c(z):
        cols = [_column(z, j) for j in range(d)]
        means = [sum(x) / n for x in cols]
        total = 0.0
        for i, j in itertools.permutations(range(d), 2):
            cov = sum((cols[i][b] - means[i]) * (cols[j][b] - means[j]) for b in range(n))
            total += (cov / (n - 1)) ** 2
        return total / d

    var, cov = v(z_a) + v(z_b), c(z_a) + c(z_b)
    return lam * s + mu * var + nu * cov, s, var, cov


def test_loss_equals_equation_6_computed_by_hand_in_float64():
    z_a, z_b = _views()
    expected, s, v, c = _by_hand(z_a, z_b, 25.0, 25.0, 1.0)
    assert vicreg_loss(z_a, z_b).item() == pytest.approx(expected, rel=1e-12)
    terms = [t.item() for t in vicreg_terms(z_a, z_b)]
    assert terms == pytest.approx([s, v, c], rel=1e-12)
    assert v > 0 and c > 0  # the small second view is below γ: every term counts here
    expected = _by_hand(z_a, z_b, 2.0, 3.0, 4.0, gamma=0.5, eps=1e-3)[0]
    actual = vicreg_loss(z_a, z_b, lam=2.0, mu=3.0, nu=4.0, gamma=0.5, eps=1e-3)
    assert actual.item() == pytest.approx(expected, rel=1e-12)


def test_invariance_is_the_mean_squared_error_over_all_entries():
    z_a = torch.zeros(2, 2, dtype=torch.float64)
    z_b = torch.tensor([[2.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    assert invariance_loss(z_a, z_b).item() == 1.0  # 4 / (N D) = 4 / 4


def test_variance_hinge_is_zero_once_every_std_reaches_gamma():
    z = 3.0 * _views(n=64)[0]  # stds ≈ 3
    assert variance_loss(z).item() == 0.0
    assert variance_loss(z, gamma=100.0).item() > 90.0


def test_a_collapsed_view_costs_gamma_minus_sqrt_eps_with_a_finite_gradient():
    z = torch.ones(8, 5, requires_grad=True)
    loss = variance_loss(z)
    assert loss.item() == pytest.approx(1.0 - math.sqrt(1e-4), rel=1e-6)
    loss.backward()
    assert torch.isfinite(z.grad).all()


def test_covariance_is_zero_for_decorrelated_dimensions_and_counts_each_pair_twice():
    z = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]], dtype=torch.float64)
    assert covariance_loss(z).item() == 0.0
    z[:, 1] = z[:, 0]  # Cov_01 = Cov_10 = 4/3
    assert covariance_loss(z).item() == pytest.approx(2 * (4 / 3) ** 2 / 2)


def test_gradients_are_finite_and_reach_both_views():
    z_a, z_b = (z.float().requires_grad_() for z in _views())
    vicreg_loss(z_a, z_b).backward()
    for z in (z_a, z_b):
        assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_float64_in_float64_out():
    assert all(t.dtype == torch.float64 for t in (vicreg_loss(*_views()), *vicreg_terms(*_views())))


def test_loss_is_float32_under_bfloat16_autocast():
    z_a, z_b = (torch.nn.Linear(4, 4)(z.float()) for z in _views())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = vicreg_loss(z_a.bfloat16(), z_b.bfloat16())
    assert loss.dtype == torch.float32


def test_head_takes_the_mean_over_unordered_view_pairs_and_keeps_the_terms():
    views = [_views(seed=s)[1] for s in range(3)]
    head = build_head("vicreg", {"lam": 2.0, "mu": 3.0, "nu": 4.0})
    pairs = list(itertools.combinations(views, 2))
    expected = torch.stack([vicreg_loss(a, b, 2.0, 3.0, 4.0) for a, b in pairs]).mean()
    torch.testing.assert_close(head(StepOutput(labels=torch.arange(6), z=views)), expected)
    invariance = torch.stack([invariance_loss(a, b) for a, b in pairs]).mean()
    torch.testing.assert_close(head.last_terms["invariance"], invariance)
    assert not head.last_terms["invariance"].requires_grad


def test_schema_defaults_are_the_paper_and_solo_learn_cifar_recipe():
    node = METHODS.config_node("vicreg")
    assert (node.lam, node.mu, node.nu, node.gamma, node.eps) == (25.0, 25.0, 1.0, 1.0, 1e-4)
    projector = node.projector
    assert (projector.hidden_dim, projector.output_dim, projector.num_layers) == (2048, 2048, 3)
    assert projector.hidden_batch_norm and not projector.last_batch_norm


def test_a_step_logs_the_three_terms_that_make_up_the_objective(tmp_path):
    overrides = [*TINY, "method=vicreg", "method.lam=2", "method.mu=3", "method.nu=4"]
    model = create_method(compose_pretrain(overrides, tmp_path))
    _, logged = training_step(model)
    s, v, c = (logged[f"train/vicreg_{name}"] for name in ("invariance", "variance", "covariance"))
    assert s > 0 and v > 0 and c > 0
    torch.testing.assert_close(logged["train/vicreg"], 2 * s + 3 * v + 4 * c)


def test_trains_with_the_geodesic_geometry(tmp_path):
    summary = run_pretrain(["method=vicreg", "geometry=geodesic"], tmp_path)
    assert math.isfinite(summary["train/vicreg"]) and summary["train/vicreg"] > 0
    assert math.isfinite(summary["train/vicreg_variance"])
