import math

import pytest
import torch
from torch import nn

from hyperssl.methods.momentum import cosine_tau, frozen_copy, momentum_update


def test_momentum_update_is_tau_old_plus_one_minus_tau_online():
    online = nn.Linear(4, 3)
    target = frozen_copy(online)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(torch.randn_like(p))
    old = [p.clone() for p in target.parameters()]
    momentum_update(online, target, tau=0.9)
    for before, new, current in zip(old, target.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(new, 0.9 * before + 0.1 * current)


def test_frozen_copy_receives_no_gradient():
    copy = frozen_copy(nn.Linear(2, 2))
    assert all(not p.requires_grad for p in copy.parameters())


@pytest.mark.parametrize(
    "step,expected",
    [(0, 0.99), (50, 0.99 + 0.01 * (1 - math.cos(math.pi / 2)) / 2), (100, 1.0), (150, 1.0)],
)
def test_tau_follows_a_cosine_from_base_to_final(step, expected):
    assert cosine_tau(step, 100, base_tau=0.99, final_tau=1.0) == pytest.approx(expected)


def test_ema_runs_once_per_optimizer_step_under_gradient_accumulation(tmp_path):
    from hydra_runs import metric_values, run_pretrain

    run_pretrain(
        [
            "method=byol",
            "method.predictor.hidden_dim=32",
            "trainer.limit_train_batches=4",
            "trainer.accumulate_grad_batches=2",
            "method.momentum.base_tau=0.5",
            "method.momentum.final_tau=1.0",
        ],
        tmp_path,
    )
    taus = metric_values(tmp_path, "train/tau")
    # 4 micro-batches, 2 optimizer steps: two updates, the k-th (0-based) with τ_k.
    assert taus == pytest.approx([cosine_tau(0, 2, 0.5, 1.0), cosine_tau(1, 2, 0.5, 1.0)])
