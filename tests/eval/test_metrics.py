import math

import pytest
import torch

from hyperssl.eval.metrics import effective_rank, pair_angles, sphere_metrics


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
