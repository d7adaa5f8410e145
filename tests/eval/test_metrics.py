import math

import pytest
import torch
import torch.nn.functional as F

from hyperssl.eval.metrics import (
    effective_rank,
    label_rank,
    labelled_cross_entropy,
    pair_angles,
    sphere_metrics,
    spread_metrics,
    top_k_accuracy,
)


def test_pair_angles_of_known_pairs():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    z2 = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
    positive, negative = pair_angles(z1, z2)
    torch.testing.assert_close(positive, torch.tensor([45.0, 180.0]))
    # (z1_0, z2_1): 90 degrees; (z1_1, z2_0): 45 degrees
    torch.testing.assert_close(negative, torch.tensor([90.0, 45.0]))


def test_effective_rank_counts_used_directions():
    assert effective_rank(torch.eye(6)) == pytest.approx(6.0, rel=1e-4)
    line = torch.randn(50, 1) * torch.randn(1, 8)
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-3)
    assert 1.0 < effective_rank(torch.randn(200, 8)) <= 8.0


def test_sphere_metrics_of_identical_antipodal_views():
    z = torch.tensor([[0.0, 3.0], [0.0, -3.0]])
    metrics = sphere_metrics(z, z.clone())
    assert metrics["alignment"] == pytest.approx(0.0)
    # two antipodal points: squared distance 4, log exp(-2 * 4) = -8
    assert metrics["uniformity"] == pytest.approx(-8.0)
    assert metrics["pos_angle_mean"] == pytest.approx(0.0, abs=1e-2)
    assert metrics["neg_angle_mean"] == pytest.approx(180.0, abs=1e-2)
    assert metrics["effective_rank"] == pytest.approx(1.0, abs=1e-3)
    assert all(math.isfinite(value) for value in metrics.values())


def test_rankme_follows_garrido_et_al_eq_1_with_their_epsilon():
    """Singular values 3, 1: p = (0.75, 0.25) + 1e-7, RankMe = exp(-Σ p log p)."""
    x = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    p = [0.75 + 1e-7, 0.25 + 1e-7]
    expected = math.exp(-sum(value * math.log(value) for value in p))
    assert effective_rank(x) == pytest.approx(expected, rel=1e-9)


def test_spread_metrics_see_dimensional_collapse_that_uniformity_barely_sees():
    """Points spread over a 4-dimensional subspace of R^64 against points spread over all 64:
    the Wasserstein uniformity and RankMe separate them by far more than Wang & Isola's
    uniformity does (Fang et al. ICLR 2024, Sec. 3)."""
    generator = torch.Generator().manual_seed(0)
    spread = torch.randn(512, 64, generator=generator)
    collapsed = torch.zeros(512, 64)
    collapsed[:, :4] = torch.randn(512, 4, generator=generator)
    full, low = spread_metrics(spread), spread_metrics(collapsed)
    assert low["wasserstein_uniformity"] > 2 * full["wasserstein_uniformity"]
    assert low["rankme"] < 5 < 40 < full["rankme"]
    assert abs(low["uniformity"] - full["uniformity"]) < 0.5 * abs(full["uniformity"])


def test_top_k_accuracy_counts_labelled_rows_only():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    labels = torch.tensor([1, 2, 2, -1])  # hit, miss (2nd best), hit, unlabelled
    assert top_k_accuracy(logits, labels, 1).item() == pytest.approx(200 / 3)
    assert top_k_accuracy(logits, labels, 2).item() == pytest.approx(100.0)
    assert top_k_accuracy(logits, labels, 5).item() == pytest.approx(100.0)  # k capped at 3
    assert top_k_accuracy(logits, torch.full((4,), -1), 1).item() == 0.0


def test_label_rank_breaks_ties_by_class_index():
    scores = torch.tensor([[0.5, 2.0, 0.5, 0.5], [1.0, 1.0, 1.0, 1.0], [0.0, 3.0, 3.0, 1.0]])
    # row 0: class 1, then the tied 0, 2, 3 in that order; row 1: all tied; row 2: 1, 2, 3, 0
    assert label_rank(scores, torch.tensor([2, 3, 2])).tolist() == [2, 3, 1]
    assert label_rank(scores, torch.tensor([1, 0, 0])).tolist() == [0, 0, 3]


def test_top_k_accuracy_of_tied_logits_matches_a_hand_count():
    logits = torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.7, 0.7], [0.9, 0.1, 0.9]])
    labels = torch.tensor([2, 2, 0])  # ranks 2, 1, 0
    assert top_k_accuracy(logits, labels, 1).item() == pytest.approx(100 / 3)
    assert top_k_accuracy(logits, labels, 2).item() == pytest.approx(200 / 3)
    assert top_k_accuracy(logits, labels, 3).item() == pytest.approx(100.0)


def test_labelled_cross_entropy_is_the_mean_over_labelled_rows_and_zero_without_labels():
    logits = torch.randn(6, 4, requires_grad=True)
    labels = torch.tensor([0, -1, 3, 2, -1, 1])
    keep = labels >= 0
    expected = F.cross_entropy(logits[keep], labels[keep])
    torch.testing.assert_close(labelled_cross_entropy(logits, labels), expected)
    none = labelled_cross_entropy(logits, torch.full((6,), -1))
    none.backward()
    assert none.item() == 0.0 and torch.isfinite(logits.grad).all()
