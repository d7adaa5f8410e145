import pytest
import torch
from lr_schedules import lrs_over
from omegaconf import OmegaConf
from timm.optim import Lars
from torch import nn

from hyperssl.errors import ConfigError
from hyperssl.optim import (
    OPTIMIZERS,
    SCHEDULERS,
    ScheduledOptimization,
    build_optimizer,
    scaled_lr,
    split_decay_groups,
)


def optimizer_cfg(name: str, **values):
    return OmegaConf.merge(OPTIMIZERS.config_node(name), values)


def scheduler_cfg(name: str, **values):
    return OmegaConf.merge(SCHEDULERS.config_node(name), values)


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
    cfg = optimizer_cfg("lars", weight_decay=1e-4, momentum=0.0)
    groups = split_decay_groups(model, exclude_bias_n_norm=True)
    optimizer = build_optimizer(groups, cfg, lr=0.5)
    assert isinstance(optimizer, Lars)
    model.bias.grad = torch.ones(4)
    model.weight.grad = torch.zeros(4, 3)
    before = model.bias.detach().clone()
    optimizer.step()
    # No weight decay and no trust ratio on the bias: a plain SGD step of lr x grad.
    torch.testing.assert_close(model.bias.detach(), before - 0.5)


def solo_learn_lars_step(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    buffers: list[torch.Tensor | None],
    group: dict,
    exclude_bias_n_norm: bool,
) -> None:
    """One step of solo-learn's LARS (solo/utils/lars.py) on float64 copies, in place: the trust
    ratio eta ||p|| / (||g|| + wd ||p|| + eps), clipped to at most lr with ``clip_lr``, scales
    g + wd p for every parameter but, with ``exclude_bias_n_norm``, the one-dimensional ones
    (which get plain momentum SGD with no weight decay); then momentum SGD."""
    lr, wd = group["lr"], group["weight_decay"]
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        p_norm, g_norm = p.norm().item(), g.norm().item()
        step = g.clone()
        if (p.ndim != 1 or not exclude_bias_n_norm) and p_norm != 0 and g_norm != 0:
            ratio = group["eta"] * p_norm / (g_norm + p_norm * wd + group["eps"])
            if group["clip_lr"]:
                ratio = min(ratio / lr, 1.0)
            step = (g + wd * p) * ratio
        if buffers[i] is None:
            buffers[i] = step.clone()
        else:
            buffers[i] = buffers[i] * group["momentum"] + step
        p -= lr * buffers[i]


@pytest.mark.parametrize("exclude_bias_n_norm", [True, False])
def test_lars_steps_like_solo_learns_lars_with_an_online_probe(exclude_bias_n_norm):
    """A backbone's groups (split by weight decay as the methods do) and the online probe's
    (its own lr, no weight decay, its weight still adapted, as in solo-learn), two steps."""
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).double()
    classifier = nn.Linear(3, 2).double()
    with torch.no_grad():
        backbone[1].weight.uniform_(0.5, 1.5)
        backbone[1].bias.normal_()
    groups = split_decay_groups(backbone, exclude_bias_n_norm, "backbone") + [
        {
            "name": "classifier",
            "params": list(classifier.parameters()),
            "lr": 0.1,
            "weight_decay": 0.0,
        }
    ]
    cfg = optimizer_cfg(
        "lars",
        weight_decay=1e-2,
        momentum=0.9,
        trust_coefficient=0.02,
        exclude_bias_n_norm=exclude_bias_n_norm,
    )
    optimizer = build_optimizer(groups, cfg, lr=0.4)
    # solo-learn's groups: the backbone's whole, the probe's with its own lr and no decay.
    options = {"momentum": 0.9, "eta": 0.02, "eps": 1e-8, "clip_lr": True}
    reference = [
        ([p.detach().clone() for p in backbone.parameters()], {"lr": 0.4, "weight_decay": 1e-2}),
        ([p.detach().clone() for p in classifier.parameters()], {"lr": 0.1, "weight_decay": 0.0}),
    ]
    buffers = [[None] * len(params) for params, _ in reference]
    models = [backbone, classifier]
    for step, grad_scale in enumerate([1.0, 1e-3]):  # large grads then clipped trust ratios
        generator = torch.Generator().manual_seed(step)
        for (params, group), model, group_buffers in zip(reference, models, buffers, strict=True):
            grads = [
                torch.randn(p.shape, generator=generator, dtype=torch.float64) * grad_scale
                for p in params
            ]
            for p, g in zip(model.parameters(), grads, strict=True):
                p.grad = g.clone()
            solo_learn_lars_step(
                params, grads, group_buffers, {**group, **options}, exclude_bias_n_norm
            )
        optimizer.step()
        for (params, _), model in zip(reference, models, strict=True):
            for expected, p in zip(params, model.parameters(), strict=True):
                torch.testing.assert_close(p.detach(), expected, rtol=1e-12, atol=1e-14)


def test_lars_puts_the_probe_bias_apart_from_its_adapted_weight():
    classifier = nn.Linear(3, 2)
    groups = [{"name": "classifier", "params": list(classifier.parameters()), "weight_decay": 0.0}]
    optimizer = build_optimizer(groups, optimizer_cfg("lars"), lr=0.4)
    kinds = [(g["name"], g["always_adapt"], len(g["params"])) for g in optimizer.param_groups]
    assert kinds == [("classifier", True, 1), ("classifier_no_decay", False, 1)]


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_registered_optimizer_builds_with_its_defaults_and_steps(name):
    model = nn.Linear(3, 2)
    optimizer = build_optimizer([{"params": list(model.parameters())}], optimizer_cfg(name), 0.1)
    model(torch.ones(1, 3)).sum().backward()
    before = model.weight.detach().clone()
    optimizer.step()
    assert not torch.equal(model.weight.detach(), before)


@pytest.mark.parametrize(
    ("name", "expected_step"),
    [
        # Adam's L2 term is its gradient: the first step normalises it to lr per coordinate.
        ("adam", lambda weight, lr, decay: lr * weight.sign()),
        # AdamW decays the weights apart from the (here zero) gradient: lr x decay x weight.
        ("adamw", lambda weight, lr, decay: lr * decay * weight),
    ],
)
def test_adam_decays_as_an_l2_gradient_and_adamw_apart_from_it(name, expected_step):
    lr, decay = 0.01, 0.1
    weight = nn.Parameter(torch.tensor([2.0, -0.5, 4.0]))
    optimizer = build_optimizer([{"params": [weight]}], optimizer_cfg(name, weight_decay=decay), lr)
    weight.grad = torch.zeros_like(weight)
    before = weight.detach().clone()
    optimizer.step()
    torch.testing.assert_close(before - weight.detach(), expected_step(before, lr, decay))


def test_an_unknown_optimizer_lists_the_registered_ones():
    with pytest.raises(
        ConfigError, match=r"^optimizer.name: unknown optimizer 'rmsprop'; allowed:"
    ):
        build_optimizer([], OmegaConf.create({"name": "rmsprop"}), 0.1)


def test_warmup_cosine_rises_linearly_then_decays_to_min_lr():
    cfg = scheduler_cfg("warmup_cosine", warmup_epochs=1, warmup_start_lr=0.0, min_lr=0.01)
    lrs = lrs_over(cfg, total_steps=110, steps_per_epoch=10)
    assert lrs[0] == pytest.approx(0.0)
    assert lrs[5] == pytest.approx(0.5)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.01 + 0.99 * 0.5, rel=1e-6)
    assert lrs[-1] == pytest.approx(0.01, abs=1e-3)


def test_step_schedule_multiplies_by_gamma_from_the_first_step_of_each_milestone_epoch():
    cfg = scheduler_cfg("step", lr_decay_epochs=[2, 4], gamma=0.1)
    lrs = lrs_over(cfg, total_steps=50, steps_per_epoch=10)
    assert lrs[19] == pytest.approx(1.0)
    assert lrs[20] == pytest.approx(0.1)
    assert lrs[39] == pytest.approx(0.1)
    assert lrs[40] == pytest.approx(0.01)


def test_step_schedule_warms_up_from_the_start_lr_then_keeps_its_milestones():
    cfg = scheduler_cfg(
        "step", lr_decay_epochs=[2], gamma=0.5, warmup_epochs=1, warmup_start_lr=0.2
    )
    lrs = lrs_over(cfg, total_steps=30, steps_per_epoch=10)
    assert lrs[0] == pytest.approx(0.2)
    assert lrs[5] == pytest.approx(0.6)
    assert lrs[10] == pytest.approx(1.0)
    assert lrs[20] == pytest.approx(0.5)


def test_no_schedule_is_a_constant_lr_or_just_the_warm_up():
    assert lrs_over(scheduler_cfg("none"), total_steps=5, steps_per_epoch=5) == [1.0] * 5
    lrs = lrs_over(scheduler_cfg("none", warmup_epochs=1), total_steps=20, steps_per_epoch=10)
    assert lrs[5] == pytest.approx(0.5) and lrs[10:] == [1.0] * 10


class _Trainer:
    world_size = 1
    max_epochs = 2
    estimated_stepping_batches = 20


class _Module(ScheduledOptimization):
    trainer = _Trainer()
    global_step = 0


def test_a_static_lr_group_keeps_its_lr_through_warm_up_and_decay():
    head, predictor = nn.Linear(2, 2), nn.Linear(2, 2)
    groups = [
        {"name": "head", "params": list(head.parameters())},
        {"name": "predictor", "params": list(predictor.parameters()), "static_lr": True},
    ]
    module = _Module()
    answer = module.optimization(
        groups,
        optimizer_cfg("sgd", lr=0.4, batch_size=256),
        scheduler_cfg("warmup_cosine", warmup_epochs=1),
    )
    optimizer, scheduler = answer["optimizer"], answer["lr_scheduler"]["scheduler"]
    seen = []
    for step in range(1, 20):
        module.global_step = step
        module.lr_scheduler_step(scheduler, None)
        seen.append([group["lr"] for group in optimizer.param_groups])
    assert all(lrs[1] == pytest.approx(0.4) for lrs in seen)
    assert seen[4][0] == pytest.approx(0.2) and seen[-1][0] < 0.01
