"""SimSiam: the negative-similarity loss with stop-gradient against the paper's formula, and the
predictor's learning rate kept fixed while the others follow the schedule."""

import math

import pytest
import torch
import torch.nn.functional as F
from hydra_runs import metric_columns, run_pretrain

from hyperssl.losses import simsiam_loss


def test_cosine_loss_is_minus_the_mean_cosine_of_p_and_z():
    torch.manual_seed(0)
    p, z = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    expected = -(F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(simsiam_loss(p, z), expected)


def test_geodesic_loss_is_minus_one_minus_the_mean_angle_over_pi():
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    z = torch.tensor([[0.0, 2.0], [-1.0, 0.0]], dtype=torch.float64)  # 90 and 180 degrees
    expected = -((1 - 0.5) + (1 - 1.0)) / 2
    assert simsiam_loss(p, z, "geodesic").item() == pytest.approx(expected, abs=1e-6)


def test_the_target_gets_no_gradient_and_the_prediction_a_finite_one():
    p = torch.randn(6, 8, requires_grad=True)
    z = torch.randn(6, 8, requires_grad=True)
    simsiam_loss(p, z, "geodesic").backward()
    assert z.grad is None
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_predictor_lr_stays_fixed_while_the_backbone_warms_up(tmp_path):
    summary = run_pretrain(
        [
            "method=simsiam",
            "optimizer=sgd",
            "method.predictor.hidden_dim=16",
            "scheduler.warmup_epochs=1",
        ],
        tmp_path,
    )
    assert math.isfinite(summary["train/simsiam"])
    columns = metric_columns(tmp_path)
    predictor, backbone = columns["lr-SGD/predictor"], columns["lr-SGD/backbone"]
    assert len(set(predictor)) == 1 and predictor[0] > 0
    assert backbone == sorted(backbone) and backbone[0] < backbone[-1]
