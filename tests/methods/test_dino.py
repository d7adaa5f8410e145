"""DINO: the loss against the paper's cross-entropy written out by hand, the weight-normalised
prototype layer in each geometry, the teacher temperature warm-up, the center's EMA, the teacher
on the large crops only, the frozen last layer and the gradient clipping."""

import math

import pytest
import torch
import torch.nn.functional as F
from hydra_runs import TINY, compose_pretrain, metric_values, run_pretrain
from method_steps import training_step
from torch import nn

from hyperssl.layers.dino_head import PrototypeScores
from hyperssl.losses.dino import dino_loss, teacher_temperature_at, updated_center
from hyperssl.methods import create_method

SMALL = ["method=dino", "method.num_prototypes=32"]


def dino_model(tmp_path, overrides=()):
    return create_method(compose_pretrain([*TINY, *SMALL, *overrides], tmp_path))


def cross_entropy_by_hand(student, teacher, center, tau_s, tau_t):
    """Eq. 3 sample by sample and class by class: mean over pairs (i, v != i) of the batch mean
    of -sum_k P_t^k log P_s^k."""
    pair_losses = []
    for i, t in enumerate(teacher):
        for v, s in enumerate(student):
            if v == i:
                continue
            per_sample = []
            for b in range(len(s)):
                t_exp = [math.exp((t[b, k] - center[k]).item() / tau_t) for k in range(len(t[b]))]
                s_exp = [math.exp(s[b, k].item() / tau_s) for k in range(len(s[b]))]
                h = -sum(
                    te / sum(t_exp) * math.log(se / sum(s_exp))
                    for te, se in zip(t_exp, s_exp, strict=True)
                )
                per_sample.append(h)
            pair_losses.append(sum(per_sample) / len(per_sample))
    return sum(pair_losses) / len(pair_losses)


def test_loss_is_the_papers_cross_entropy_over_teacher_and_other_views():
    torch.manual_seed(0)
    student = [torch.randn(3, 5, dtype=torch.float64) for _ in range(4)]  # 2 large + 2 small
    teacher = [torch.randn(3, 5, dtype=torch.float64) for _ in range(2)]
    center = torch.randn(5, dtype=torch.float64)
    loss = dino_loss(student, teacher, center, 0.1, 0.04)
    expected = cross_entropy_by_hand(student, teacher, center, 0.1, 0.04)
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_two_view_loss_is_the_mean_of_the_two_crossed_terms():
    torch.manual_seed(1)
    s1, s2, t1, t2 = (torch.randn(4, 6, dtype=torch.float64) for _ in range(4))
    center = torch.zeros(6, dtype=torch.float64)

    def h(t, s):
        return -(F.softmax(t / 0.07, 1) * F.log_softmax(s / 0.1, 1)).sum(1).mean()

    expected = (h(t1, s2) + h(t2, s1)) / 2
    torch.testing.assert_close(dino_loss([s1, s2], [t1, t2], center, 0.1, 0.07), expected)


def test_student_gets_a_finite_gradient_and_the_teacher_none():
    student = [torch.randn(4, 8, requires_grad=True) for _ in range(3)]
    teacher = [torch.randn(4, 8, requires_grad=True) for _ in range(2)]
    dino_loss(student, teacher, torch.zeros(8), 0.1, torch.tensor(0.04)).backward()
    assert all(torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0 for s in student)
    assert all(t.grad is None for t in teacher)


def test_float64_logits_give_a_float64_loss():
    logits = [torch.randn(2, 4, dtype=torch.float64) for _ in range(2)]
    assert dino_loss(logits, logits, torch.zeros(4), 0.1, 0.04).dtype == torch.float64


def test_loss_is_float32_under_bfloat16_autocast():
    layer = nn.Linear(4, 6)
    x = torch.randn(3, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = [layer(x), layer(x + 1)]
        assert logits[0].dtype == torch.bfloat16
        loss = dino_loss(logits, [t.detach() for t in logits], torch.zeros(6), 0.1, 0.04)
    assert loss.dtype == torch.float32


@pytest.mark.parametrize(
    "epoch,expected", [(0, 0.04), (1, 0.045), (3, 0.055), (6, 0.07), (7, 0.07), (100, 0.07)]
)
def test_teacher_temperature_rises_linearly_over_the_warmup_then_stays(epoch, expected):
    # np.linspace(0.04, 0.07, 7) reaches 0.07 at epoch 6, the last warm-up epoch.
    assert teacher_temperature_at(epoch, 0.04, 0.07, 7) == pytest.approx(expected)


def test_teacher_temperature_without_warmup_is_the_final_one():
    assert teacher_temperature_at(0, 0.04, 0.07, 0) == 0.07


def test_center_is_an_ema_of_the_teacher_mean_over_batch_and_views():
    center = torch.tensor([1.0, -1.0])
    teacher = [torch.tensor([[0.0, 2.0], [2.0, 2.0]]), torch.tensor([[4.0, 0.0], [2.0, 4.0]])]
    # mean over the 4 rows: [2, 2]
    torch.testing.assert_close(
        updated_center(center, teacher, 0.9), torch.tensor([0.9 + 0.2, -0.9 + 0.2])
    )


def test_cosine_prototype_scores_equal_the_weight_normalised_linear_layer():
    torch.manual_seed(0)
    layer = PrototypeScores(5, 7, norm_last_layer=False, geometry="cosine").double()
    with torch.no_grad():
        layer.weight_g.uniform_(0.5, 2.0)
    reference = nn.utils.parametrizations.weight_norm(nn.Linear(5, 7, bias=False)).double()
    with torch.no_grad():
        reference.parametrizations.weight.original0.copy_(layer.weight_g[:, None])
        reference.parametrizations.weight.original1.copy_(layer.weight_v)
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(x), reference(F.normalize(x, dim=1)))


def test_geodesic_prototype_scores_are_one_minus_the_angle_over_pi():
    layer = PrototypeScores(2, 2, norm_last_layer=True, geometry="geodesic").double()
    with torch.no_grad():
        layer.weight_v.copy_(torch.tensor([[3.0, 0.0], [0.0, -1.0]]))
    scores = layer(torch.tensor([[2.0, 2.0]], dtype=torch.float64))  # 45 and 135 degrees
    torch.testing.assert_close(scores, torch.tensor([[0.75, 0.25]], dtype=torch.float64))


def test_norm_last_layer_fixes_the_gain_to_one():
    fixed = PrototypeScores(3, 4, norm_last_layer=True, geometry="cosine")
    learned = PrototypeScores(3, 4, norm_last_layer=False, geometry="cosine")
    assert not fixed.weight_g.requires_grad and learned.weight_g.requires_grad
    assert torch.equal(fixed.weight_g, torch.ones(4))


def test_teacher_sees_only_the_large_crops(tmp_path):
    model = dino_model(tmp_path, ["augmentations=multicrop_digits"])
    assert model.num_large_views == 2
    seen = []
    model.momentum_backbone.register_forward_hook(lambda m, args, out: seen.append(args[0].shape))
    views = [torch.randn(4, 3, 32, 32) for _ in range(2)] + [
        torch.randn(4, 3, 16, 16) for _ in range(4)
    ]
    out = model.embed(views, torch.arange(4))
    assert len(out.embeddings["student_logits"]) == 6
    assert len(out.embeddings["teacher_logits"]) == 2
    assert seen == [torch.Size([4, 3, 32, 32])] * 2


def test_after_step_moves_the_center_towards_the_teacher_mean(tmp_path):
    model = dino_model(tmp_path)
    out = model.embed([torch.randn(4, 3, 32, 32) for _ in range(2)], torch.arange(4))
    teacher_mean = torch.cat(out.embeddings["teacher_logits"]).mean(0)
    model.after_step(out)
    torch.testing.assert_close(model.center, 0.1 * teacher_mean)


@pytest.mark.parametrize("freeze,frozen", [(1, True), (0, False)])
def test_last_layer_gets_no_gradient_during_the_frozen_epochs(tmp_path, freeze, frozen):
    model = dino_model(tmp_path, [f"method.freeze_last_layer={freeze}"])
    loss, _ = training_step(model)
    loss.backward()
    model.on_before_optimizer_step(optimizer=None)  # epoch 0
    assert (model.projector.last_layer.weight_v.grad is None) == frozen
    assert all(p.grad is not None for p in model.projector.mlp.parameters())


def test_clip_grad_bounds_every_student_parameters_gradient_norm(tmp_path):
    model = dino_model(tmp_path, ["method.clip_grad=1e-3", "method.freeze_last_layer=0"])
    loss, _ = training_step(model)
    loss.backward()
    params = [*model.backbone.parameters(), *model.projector.parameters()]
    before = [p.grad.clone() for p in params if p.grad is not None]
    model.on_before_optimizer_step(optimizer=None)
    after = [p.grad for p in params if p.grad is not None]
    for old, new in zip(before, after, strict=True):
        assert new.norm() <= 1e-3 * (1 + 1e-5)
        torch.testing.assert_close(new, old * min(1.0, 1e-3 / (old.norm().item() + 1e-6)))
    assert any(old.norm() > 1e-3 for old in before)


def test_trains_with_multi_crop_and_the_geodesic_geometry(tmp_path):
    summary = run_pretrain(
        [
            *SMALL,
            "geometry=geodesic",
            "augmentations=multicrop_digits",
            "trainer.max_epochs=2",
            "trainer.limit_train_batches=2",
            "method.warmup_teacher_temperature_epochs=2",
        ],
        tmp_path,
    )
    assert math.isfinite(summary["train/dino"])
    temperatures = metric_values(tmp_path, "train/teacher_temperature")
    assert temperatures == pytest.approx([0.04, 0.07])
