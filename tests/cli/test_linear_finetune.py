"""main_linear.py finetune=true trains the backbone in train mode with its own learning rate; a NaN
or inf loss during any probe stops it with exit status 3, one line, and no summary."""

import math
import re

import pytest
import torch
from hydra_runs import linear_overrides, metric_values, run_entry, run_linear

from hyperssl import ConfigError
from hyperssl.cli.checkpoints import load_pretrained
from hyperssl.errors import NonFiniteLossError
from hyperssl.eval.linear import LinearProbe

EPOCHS = 8  # 64 images / 16: 32 steps, enough for the fixture's class-coloured stripes


def probe_overrides(pretrained_run, cifar10_root, cache_dir):
    return [
        *linear_overrides(pretrained_run, cifar10_root, cache_dir, epochs=EPOCHS),
        "trainer.log_every_n_steps=1",
        "optimizer.scale_lr_by_batch=false",  # lr 0.4: the probe learns in these few steps
    ]


@pytest.fixture(scope="module")
def probes(pretrained_run, cifar10_root, tmp_path_factory):
    """The frozen probe's and the fine-tuned one's summaries and run directories."""
    root = tmp_path_factory.mktemp("probes")
    overrides = probe_overrides(pretrained_run, cifar10_root, root / "cache")
    frozen = run_linear(overrides, root / "frozen")
    finetuned = run_linear(
        [*overrides, "finetune=true", "linear.backbone_lr=0.04"], root / "finetune"
    )
    return frozen, finetuned, root / "finetune"


def test_finetuning_keeps_the_loss_finite_and_matches_the_frozen_probe(probes):
    frozen, finetuned, run_dir = probes
    assert finetuned["mode"] == "finetune" and finetuned["global_step"] == 4 * EPOCHS
    losses = metric_values(run_dir, "train/loss")
    assert len(losses) == 4 * EPOCHS and all(math.isfinite(loss) for loss in losses)
    assert math.isfinite(finetuned["linear_val_loss"])
    # 32 validation images: 3.1 points each (measured: frozen 68.8%, fine-tuned 84.4%).
    assert frozen["linear_top1"] >= 50.0
    assert finetuned["linear_top1"] >= frozen["linear_top1"] - 6.25


def test_finetuning_updates_the_backbone_batchnorm_statistics(probes, pretrained_run):
    _, _, run_dir = probes
    pretrained = load_pretrained(str(pretrained_run)).backbone.state_dict()
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    running = [name for name in pretrained if name.endswith(("running_mean", "running_var"))]
    assert running, "the fixture's backbone has BatchNorm layers"
    for name in running:
        assert not torch.allclose(state[f"encoder.{name}"], pretrained[name]), name
    for name in (name for name in pretrained if name.endswith("num_batches_tracked")):
        assert state[f"encoder.{name}"] == pretrained[name] + 4 * EPOCHS, name


def test_finetuned_backbone_has_its_own_learning_rate(probes):
    _, _, run_dir = probes
    # The lr monitor's first step, before the cosine decays them: optimizer.lr and backbone_lr.
    assert metric_values(run_dir, "lr-SGD/head")[0] == pytest.approx(0.4)
    assert metric_values(run_dir, "lr-SGD/backbone")[0] == pytest.approx(0.04)


def test_a_backbone_lr_of_zero_is_a_config_error(pretrained_run, cifar10_root, tmp_path):
    overrides = probe_overrides(pretrained_run, cifar10_root, tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"^linear.backbone_lr: got 0.0; allowed: > 0$"):
        run_linear([*overrides, "finetune=true", "linear.backbone_lr=0"], tmp_path / "run")


def test_nan_during_the_deferred_probe_names_its_step(
    pretrained_run, cifar10_root, tmp_path, monkeypatch
):
    """nan_guard=deferred (auto's choice on a GPU) reads its record later yet names the step."""
    original = LinearProbe.forward

    def nan_from_the_sixth_step(self, images):
        logits = original(self, images)
        return logits * float("nan") if self.training and self.global_step >= 5 else logits

    monkeypatch.setattr(LinearProbe, "forward", nan_from_the_sixth_step)
    overrides = probe_overrides(pretrained_run, cifar10_root, tmp_path / "cache")
    with pytest.raises(NonFiniteLossError, match=r"^step 5: head 'cross_entropy' produced nan; "):
        run_linear(
            [*overrides, "nan_guard=deferred", "trainer.log_every_n_steps=100"], tmp_path / "run"
        )
    assert not (tmp_path / "run" / "summary.json").exists()


def test_nan_during_the_probe_exits_3_with_one_line_and_no_summary(
    pretrained_run, cifar10_root, tmp_path
):
    run_dir = tmp_path / "run"
    overrides = probe_overrides(pretrained_run, cifar10_root, tmp_path / "cache")
    # An lr near float32's largest value overflows the head's weights within a few updates.
    result = run_entry(
        "main_linear.py",
        [*overrides, "optimizer.lr=1e38", "trainer.max_epochs=3", f"hydra.run.dir={run_dir}"],
    )
    # stderr also carries Lightning's notices and progress bars; the error is its one last line.
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert errors == result.stderr.strip().splitlines()[-1:], result.stderr[-3000:]
    assert re.match(r"error: step \d+: head 'cross_entropy' produced (nan|-?inf); ", errors[0])
    assert errors[0].endswith("try a lower optimizer.lr")
    assert "linear top-1" not in result.stdout
    assert not (run_dir / "summary.json").exists()
