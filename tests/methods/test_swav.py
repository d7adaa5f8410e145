"""SwAV: Sinkhorn-Knopp and the swapped prediction against the paper's formulas, the prototypes kept
on the sphere and frozen at first, the queue joining the codes from its epoch once full, and a
short multi-crop run in the geodesic geometry."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra_runs import TINY, compose_pretrain, run_pretrain
from method_steps import training_step

from hyperssl.errors import ConfigError
from hyperssl.heads import StepOutput
from hyperssl.losses.swav import sinkhorn_knopp, swav_loss
from hyperssl.methods import create_method
from hyperssl.methods.swav import SwAV
from hyperssl.validation import validate_pretrain

SMALL = ["method=swav", "method.num_prototypes=6", "method.queue_size=16"]


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=generator, dtype=torch.float64), dim=-1)


def _model(tmp_path, *overrides: str) -> SwAV:
    return create_method(compose_pretrain([*TINY, *SMALL, *overrides], tmp_path))


def _at_epoch(monkeypatch, epoch: int) -> None:
    monkeypatch.setattr(SwAV, "current_epoch", property(lambda self: epoch))


def test_sinkhorn_knopp_alternately_scales_prototypes_to_1_over_k_and_samples_to_1():
    scores = _unit(7, 5) @ _unit(4, 5, seed=1).T  # 7 samples, 4 prototypes
    epsilon, iterations = 0.05, 3
    q = np.exp(scores.numpy() / epsilon)
    q /= q.sum()
    for _ in range(iterations):
        q = q / q.sum(axis=0, keepdims=True) / 4  # each prototype's mass -> 1/K
        q = q / q.sum(axis=1, keepdims=True) / 7  # each sample's mass -> 1/N
    codes = sinkhorn_knopp(scores, epsilon, iterations)
    np.testing.assert_allclose(codes.numpy(), q * 7, rtol=1e-12)
    assert codes.dtype == torch.float64


def test_sinkhorn_knopp_converges_to_equipartitioned_codes():
    codes = sinkhorn_knopp(_unit(12, 5) @ _unit(3, 5, seed=1).T, epsilon=0.5, iterations=200)
    torch.testing.assert_close(codes.sum(dim=1), torch.ones(12, dtype=torch.float64))
    torch.testing.assert_close(codes.sum(dim=0), torch.full((3,), 4.0, dtype=torch.float64))


def test_sinkhorn_knopp_stays_finite_where_exp_of_scores_over_epsilon_overflows():
    scores = (_unit(6, 5) @ _unit(4, 5, seed=1).T).float()  # exp(1/0.001) = inf in float32
    codes = sinkhorn_knopp(scores, epsilon=0.001)
    assert torch.isfinite(codes).all()
    torch.testing.assert_close(codes.sum(dim=1), torch.ones(6))


def test_swav_loss_is_the_mean_cross_entropy_of_each_code_and_every_other_views_softmax():
    # 2 large crops with codes, 1 small crop without: pairs (0, 1), (0, 2), (1, 0), (1, 2).
    scores = [_unit(3, 4, seed=v) @ _unit(5, 4, seed=9).T for v in range(3)]
    codes = [sinkhorn_knopp(s) for s in scores[:2]]
    temperature = 0.1
    pairs = []
    for i in range(2):
        for v in range(3):
            if v == i:
                continue
            total = 0.0
            for n in range(3):
                norm = sum(math.exp(scores[v][n, k].item() / temperature) for k in range(5))
                for k in range(5):
                    p = math.exp(scores[v][n, k].item() / temperature) / norm
                    total -= codes[i][n, k].item() * math.log(p)
            pairs.append(total / 3)
    loss = swav_loss(scores, codes, temperature)
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(sum(pairs) / len(pairs), rel=1e-12)


def test_swav_loss_gradient_reaches_the_scores_and_not_the_codes():
    scores = [torch.randn(4, 6, requires_grad=True) for _ in range(3)]
    codes = [torch.softmax(torch.randn(4, 6), dim=1).requires_grad_() for _ in range(2)]
    swav_loss(scores, codes).backward()
    assert all(torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0 for s in scores)
    assert all(q.grad is None for q in codes)


def test_swav_loss_is_float32_under_bfloat16_autocast():
    scores = [torch.randn(4, 6) for _ in range(2)]
    codes = [torch.softmax(torch.randn(4, 6), dim=1) for _ in range(2)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert swav_loss([s.bfloat16() for s in scores], codes).dtype == torch.float32


def test_cosine_scores_are_z_dot_the_unit_prototypes(tmp_path):
    model = _model(tmp_path)
    with torch.no_grad():
        model.prototypes.weight.mul_(3.0)
    model.on_train_batch_start(None, 0)
    torch.testing.assert_close(model.prototypes.weight.norm(dim=1), torch.ones(6))
    out = model.embed([torch.randn(4, 3, 32, 32) for _ in range(2)], torch.arange(4))
    for z, scores in zip(out.z, out.embeddings["prototype_scores"], strict=True):
        torch.testing.assert_close(z.norm(dim=1), torch.ones(4))
        torch.testing.assert_close(scores, z @ model.prototypes.weight.T)


@pytest.mark.parametrize(("epoch", "frozen"), [(0, True), (1, False)])
def test_prototype_gradients_are_dropped_in_the_freeze_epochs(tmp_path, monkeypatch, epoch, frozen):
    model = _model(tmp_path, "method.freeze_prototypes_epochs=1")
    _at_epoch(monkeypatch, epoch)
    loss, _ = training_step(model)
    loss.backward()
    model.on_after_backward()
    assert (model.prototypes.weight.grad is None) == frozen
    assert model.projector[0].weight.grad.abs().sum() > 0


def test_queue_holds_the_large_crops_z_and_joins_the_codes_once_full_from_its_epoch(
    tmp_path, monkeypatch
):
    model = _model(tmp_path, "method.epoch_queue_starts=1")
    views, labels = [torch.randn(8, 3, 32, 32) for _ in range(2)], torch.arange(8)
    _at_epoch(monkeypatch, 1)
    for _ in range(2):  # 2 x 8 rows fill the 16-row queue
        assert "queue_scores" not in model.embed(views, labels).state
        out = model.embed(views, labels)
        model.after_step(out)
        model.queue.push_staged()
    torch.testing.assert_close(model.queue.items[:, 8:], torch.stack(out.z).detach())
    state = model.embed(views, labels).state
    expected = model.queue.items @ model.prototypes.weight.T.detach()
    torch.testing.assert_close(state["queue_scores"], expected)
    _at_epoch(monkeypatch, 0)
    assert "queue_scores" not in model.embed(views, labels).state


def test_the_head_computes_codes_on_the_queue_and_the_batch_together(tmp_path):
    model = _model(tmp_path)
    head = model.heads[0]
    scores = [_unit(4, 3, seed=v) @ _unit(6, 3, seed=9).T for v in range(3)]
    queue_scores = torch.stack([_unit(16, 3, seed=5 + v) @ _unit(6, 3, seed=9).T for v in range(2)])
    out = StepOutput(labels=torch.arange(4), embeddings={"prototype_scores": scores})
    out.num_large_views = 2
    out.state = {"queue_scores": queue_scores}
    codes = [sinkhorn_knopp(torch.cat([queue_scores[i], scores[i]]))[16:] for i in range(2)]
    torch.testing.assert_close(head(out), swav_loss(scores, codes))
    out.state = {}
    assert not torch.allclose(head(out), swav_loss(scores, codes))


def test_a_queue_that_is_not_a_multiple_of_the_global_batch_is_refused(tmp_path):
    cfg = compose_pretrain([*TINY, *SMALL, "method.queue_size=24"], tmp_path)
    with pytest.raises(ConfigError, match="method.queue_size"):
        validate_pretrain(cfg)


def test_swav_trains_with_multi_crop_and_the_queue_in_the_geodesic_geometry(tmp_path):
    summary = run_pretrain(
        [
            *SMALL,
            "method.queue_size=32",
            "method.epoch_queue_starts=0",
            "augmentations=multicrop_digits",
            "geometry=geodesic",
        ],
        tmp_path,
    )
    assert summary["global_step"] == 3
    assert math.isfinite(summary["train/swav"]) and summary["train/swav"] > 0
