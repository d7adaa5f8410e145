import pytest
import torch
from omegaconf import OmegaConf
from timm.optim import Lars
from torch import nn

from hyperssl.config import OptimizerConfig, SchedulerConfig
from hyperssl.optim import build_optimizer, build_scheduler, scaled_lr, split_decay_groups


def test_lr_scales_linearly_with_the_global_batch():
    assert scaled_lr(
        0.4, batch_size=128, world_size=4, reference=256, enabled=True
    ) == pytest.approx(0.8)
    assert scaled_lr(0.4, batch_size=128, world_size=4, reference=256, enabled=False) == 0.4


def test_biases_and_norms_have_no_weight_decay():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    decayed, exempt = split_decay_groups(model, exclude_bias_n_norm=True)
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 3])]
    assert len(exempt["params"]) == 3 and exempt["weight_decay"] == 0.0


def test_lars_does_not_adapt_the_exempt_group():
    model = nn.Linear(3, 4)
    cfg = OmegaConf.structured(OptimizerConfig(name="lars", weight_decay=1e-4, momentum=0.0))
    groups = split_decay_groups(model, exclude_bias_n_norm=True)
    optimizer = build_optimizer(groups, cfg, lr=0.5)
    assert isinstance(optimizer, Lars)
    model.bias.grad = torch.ones(4)
    model.weight.grad = torch.zeros(4, 3)
    before = model.bias.detach().clone()
    optimizer.step()
    # No weight decay and no trust ratio on the bias: a plain SGD step of lr x grad.
    torch.testing.assert_close(model.bias.detach(), before - 0.5)


def lrs_over(scheduler_cfg, total_steps, steps_per_epoch, base_lr=1.0):
    """The lr of every optimizer step, the scheduler stepped as Lightning does."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base_lr)
    scheduler, interval = build_scheduler(optimizer, scheduler_cfg, total_steps, steps_per_epoch)
    values = []
    for step in range(total_steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if interval == "step":
            scheduler.step_update(num_updates=step + 1)
        elif (step + 1) % steps_per_epoch == 0:
            scheduler.step()
    return values


def test_warmup_cosine_rises_linearly_then_decays_to_min_lr():
    cfg = OmegaConf.structured(SchedulerConfig(warmup_epochs=1, warmup_start_lr=0.0, min_lr=0.01))
    lrs = lrs_over(cfg, total_steps=110, steps_per_epoch=10)
    assert lrs[0] == pytest.approx(0.0)
    assert lrs[5] == pytest.approx(0.5)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.01 + 0.99 * 0.5, rel=1e-6)
    assert lrs[-1] == pytest.approx(0.01, abs=1e-3)


def test_step_schedule_multiplies_by_gamma_at_each_epoch():
    cfg = OmegaConf.structured(SchedulerConfig(name="step", lr_decay_epochs=[2, 4], gamma=0.1))
    lrs = lrs_over(cfg, total_steps=50, steps_per_epoch=10)
    assert lrs[19] == pytest.approx(1.0)
    assert lrs[20] == pytest.approx(0.1)
    assert lrs[40] == pytest.approx(0.01)
