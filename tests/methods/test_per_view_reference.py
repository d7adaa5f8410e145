"""SimCLR and MoCo v2+ training steps with a BatchNorm backbone equal a reference written plainly
in float64 the way solo-learn and the GCL fork compute them: one backbone pass per view (each
view's BatchNorm statistics its own) and, for MoCo v2+, one queue of past keys per view."""

import copy

import pytest
import torch
import torch.nn.functional as F
from hydra_runs import TINY, compose_pretrain

from hyperssl import ConfigError
from hyperssl.methods import BaseMethod, create_method

BATCH = 16  # TINY's batch size
TEMPERATURE = 0.2


def _model(overrides: list[str], tmp_path) -> BaseMethod:
    model = create_method(compose_pretrain([*TINY, *overrides], tmp_path)).double()
    model.log_dict = lambda metrics, **kwargs: None
    return model


def _batch() -> tuple[list[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    views = [torch.randn(BATCH, 3, 32, 32, generator=generator, dtype=torch.float64)]
    views.append(views[0] + 0.3 * torch.randn(views[0].shape, generator=generator).double())
    return views, torch.arange(BATCH) % 10


def _features(backbone, views, in_one_batch: bool):
    if in_one_batch:
        return list(backbone(torch.cat(views)).chunk(len(views)))
    return [backbone(view) for view in views]


def _step_gradients(model: BaseMethod, views, labels) -> tuple[float, dict[str, torch.Tensor]]:
    loss = model.training_step((views, labels, labels), 0)
    loss.backward()
    return loss.item(), _gradients(model)


def _gradients(model) -> dict[str, torch.Tensor]:
    return {
        name: p.grad.clone()
        for name, p in model.named_parameters()
        if p.grad is not None and name.startswith(("backbone.", "projector."))
    }


def _probe_loss(model, feats, labels) -> torch.Tensor:
    logits = model.classifier(torch.cat(feats).detach())
    return F.cross_entropy(logits, labels.repeat(len(feats)))


def _reference_simclr(model, views, labels, in_one_batch: bool):
    """NT-Xent (Chen et al. 2020, Eq. 1) as a loop over the 2B anchors."""
    feats = _features(model.backbone, views, in_one_batch)
    z = F.normalize(torch.cat([model.projector(f) for f in feats]), dim=1)
    logits = z @ z.T / TEMPERATURE
    count = len(z)
    anchors = []
    for i in range(count):
        others = [j for j in range(count) if j != i]
        anchors.append(torch.logsumexp(logits[i, others], 0) - logits[i, (i + BATCH) % count])
    loss = torch.stack(anchors).mean() + _probe_loss(model, feats, labels)
    loss.backward()
    return loss.item(), _gradients(model)


def _reference_mocov2plus(model, views, labels, in_one_batch: bool):
    """solo-learn's MoCo v2+: (CE([q1·k2, q1·Q2]/T, 0) + CE([q2·k1, q2·Q1]/T, 0)) / 2 with Q_v
    the queue of view v's past keys."""
    feats = _features(model.backbone, views, in_one_batch)
    q = [F.normalize(model.projector(f), dim=1) for f in feats]
    with torch.no_grad():
        momentum_feats = _features(model.momentum_backbone, views, in_one_batch)
        k = [F.normalize(model.momentum_projector(f), dim=1) for f in momentum_feats]
    # Built unit in float32, the queue is re-normalised in the loss's float64.
    queues = F.normalize(model.queue.items.clone(), dim=2)
    terms = []
    for query, key, queue in ((q[0], k[1], queues[1]), (q[1], k[0], queues[0])):
        logits = torch.cat([(query * key).sum(1, keepdim=True), query @ queue.T], 1)
        target = torch.zeros(BATCH, dtype=torch.long)
        terms.append(F.cross_entropy(logits / TEMPERATURE, target))
    loss = (terms[0] + terms[1]) / 2 + _probe_loss(model, feats, labels)
    loss.backward()
    return loss.item(), _gradients(model), k


REFERENCES = {"simclr": _reference_simclr, "mocov2plus": _reference_mocov2plus}
OVERRIDES = {"simclr": [], "mocov2plus": ["method.queue_size=64"]}


def _compare(method: str, in_one_batch: bool, tmp_path) -> float:
    """Check the step against the reference; return the largest gradient of the step."""
    overrides = [f"method={method}", f"method.views_in_one_batch={in_one_batch}"]
    model = _model([*overrides, *OVERRIDES[method]], tmp_path)
    views, labels = _batch()
    reference = copy.deepcopy(model)
    loss, grads = _step_gradients(model, views, labels)
    expected_loss, expected_grads, *_ = REFERENCES[method](reference, views, labels, in_one_batch)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert grads.keys() == expected_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, expected_grads[name], rtol=1e-9, atol=1e-12, msg=name)
    return loss


@pytest.mark.parametrize("method", sorted(REFERENCES))
def test_the_step_forwards_each_view_on_its_own_by_default(method, tmp_path):
    _compare(method, False, tmp_path)


@pytest.mark.parametrize("method", sorted(REFERENCES))
def test_views_in_one_batch_share_the_batch_norm_statistics(method, tmp_path):
    per_view = _compare(method, False, tmp_path / "per_view")
    joint = _compare(method, True, tmp_path / "joint")
    # BatchNorm over both views is another objective: the losses differ well above rounding.
    assert abs(per_view - joint) > 1e-6


def test_mocov2plus_enqueues_each_views_keys_in_its_own_queue(tmp_path, monkeypatch):
    # The base class's end-of-batch check reads the Trainer; this step runs without one.
    monkeypatch.setattr(BaseMethod, "on_train_batch_end", lambda *args: None)
    model = _model(["method=mocov2plus", "method.queue_size=64"], tmp_path)
    views, labels = _batch()
    *_, keys = _reference_mocov2plus(copy.deepcopy(model), views, labels, False)
    untouched = model.queue.items[:, BATCH:].clone()
    model.training_step((views, labels, labels), 0)
    model.on_train_batch_end(None, None, 0)
    assert model.queue.items.shape == (2, 64, 16)
    # rtol 1e-10: the step feeds channels-last views to the convolutions (the default layout),
    # the reference contiguous ones, so float64 sums run in another order.
    for view in range(2):
        torch.testing.assert_close(model.queue.items[view, :BATCH], keys[view], rtol=1e-10, atol=0)
    torch.testing.assert_close(model.queue.items[:, BATCH:], untouched, rtol=0, atol=0)
    assert int(model.queue.ptr) == BATCH


def test_a_checkpoint_with_one_shared_queue_is_refused_with_the_reason(tmp_path):
    model = _model(["method=mocov2plus", "method.queue_size=64"], tmp_path)
    old = {"state_dict": {"queue": torch.zeros(64, 16)}}
    with pytest.raises(ConfigError, match=r"shape \[64, 16\] \(one shared queue"):
        model.on_load_checkpoint(old)


def test_a_checkpoint_with_the_queues_as_plain_buffers_loads_into_the_feature_queue(tmp_path):
    model = _model(["method=mocov2plus", "method.queue_size=64"], tmp_path)
    queues = torch.randn(2, 64, 16)
    old = {"state_dict": {"queue": queues, "queue_ptr": torch.tensor(32)}}
    model.on_load_checkpoint(old)
    state = old["state_dict"]
    assert set(state) == {"queue.items", "queue.ptr", "queue.written"}
    assert state["queue.items"] is queues and int(state["queue.ptr"]) == 32
