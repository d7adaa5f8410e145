"""A NaN or inf in a loss (a head's, the online probe's, the linear probe's) or in the state (a
weight, a BatchNorm statistic, an optimizer state) stops the run, naming the step and where, after
saving the last state whose losses and tensors were all finite."""

import pytest
import torch
from hydra_runs import TINY, linear_overrides, run_entry, run_linear, run_pretrain

import hyperssl.methods.base
from hyperssl.errors import NonFiniteLossError
from hyperssl.heads.uniformity import UniformityHead
from hyperssl.methods.nan_guard import NonFiniteGuard

# LARS leaves biases and norms out of its trust ratio, so at this lr one update makes BatchNorm's
# weights ~1e18: the next forward's batch variance overflows the running variance to inf while
# the loss, normalised with batch statistics, stays finite (today's code trains on to a NaN at
# step 8 and saves that state as last good).
OVERFLOWING_LR = [
    "optimizer.lr=1e20",
    "scheduler.warmup_epochs=0",
    "trainer.limit_train_batches=10",
]
OVERFLOW_MESSAGE = "step 1 made buffer 'backbone.features.4.running_var' inf"


def checkpoint_tensors(path):
    """Every floating-point tensor of a checkpoint: state dict and optimizer states."""
    saved = torch.load(path, weights_only=True)
    tensors = {name: value for name, value in saved["state_dict"].items()}
    for i, optimizer in enumerate(saved["optimizer_states"]):
        for index, state in optimizer["state"].items():
            tensors.update({f"optimizer {i} {index} {key}": v for key, v in state.items()})
    floating = {
        name: t for name, t in tensors.items() if torch.is_tensor(t) and t.is_floating_point()
    }
    return saved, floating


def non_finite(tensors):
    return [name for name, tensor in tensors.items() if not torch.isfinite(tensor).all()]


@pytest.fixture(scope="module")
def overflowed_run(tmp_path_factory):
    """main_pretrain.py as a user runs it, at an lr that overflows BatchNorm's statistics."""
    run_dir = tmp_path_factory.mktemp("overflow") / "run"
    result = run_entry("main_pretrain.py", [*TINY, *OVERFLOWING_LR, f"hydra.run.dir={run_dir}"])
    return result, run_dir


def test_a_step_that_overflows_the_state_exits_3_naming_the_step_and_buffer(overflowed_run):
    result, _ = overflowed_run
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == result.stderr.strip().splitlines()[-1:], result.stderr[-3000:]
    assert errors[0] == (
        f"error: {OVERFLOW_MESSAGE}; the state before this step is in checkpoints/last_good.ckpt"
    )


def test_last_good_checkpoint_holds_only_finite_tensors(overflowed_run):
    _, run_dir = overflowed_run
    saved, tensors = checkpoint_tensors(run_dir / "checkpoints" / "last_good.ckpt")
    assert saved["global_step"] == 1  # the state before step 1, which broke it
    assert any("running_var" in name for name in tensors)
    assert any(name.startswith("optimizer") for name in tensors)  # step 0 made momentum
    assert non_finite(tensors) == []


def test_resuming_from_last_good_starts_from_finite_state(overflowed_run, tmp_path):
    """The resumed run passes the guard's check of the state it starts from, and (the lr is
    restored with the optimizer, so the same update is repeated) stops at the same step for the
    same reason, not before it."""
    _, run_dir = overflowed_run
    last_good = run_dir / "checkpoints" / "last_good.ckpt"
    with pytest.raises(NonFiniteLossError, match=f"^{OVERFLOW_MESSAGE}; "):
        run_pretrain([*OVERFLOWING_LR, f"resume={last_good}"], tmp_path / "resumed")
    _, tensors = checkpoint_tensors(tmp_path / "resumed" / "checkpoints" / "last_good.ckpt")
    assert non_finite(tensors) == []


def test_resuming_from_a_non_finite_checkpoint_stops_before_training(overflowed_run, tmp_path):
    _, run_dir = overflowed_run
    damaged = torch.load(run_dir / "checkpoints" / "last_good.ckpt", weights_only=True)
    damaged["state_dict"]["projector.1.running_var"][0] = float("inf")
    torch.save(damaged, tmp_path / "damaged.ckpt")
    with pytest.raises(
        NonFiniteLossError,
        match=r"^the state training starts from \(step 1\) holds buffer 'projector.1.running_var' "
        r"inf; resume from a checkpoint whose tensors are finite$",
    ):
        run_pretrain([*OVERFLOWING_LR, f"resume={tmp_path / 'damaged.ckpt'}"], tmp_path / "run")


def test_deferred_guard_checks_the_state_before_writing_a_checkpoint(tmp_path):
    """nan_guard=deferred reads nothing during the steps; the check before the epoch's checkpoint
    finds the overflowed statistics, names the steps since the last check, and writes nothing."""
    overrides = [
        *OVERFLOWING_LR,
        "trainer.limit_train_batches=3",
        "nan_guard=deferred",
        "trainer.log_every_n_steps=100",
    ]
    with pytest.raises(
        NonFiniteLossError,
        match=r"^one of steps 0-2 made buffer 'backbone.features.\d+.running_var' inf.*; no "
        r"checkpoint was written after it, so checkpoints/last.ckpt \(if any\) is the last good "
        r"state$",
    ):
        run_pretrain(overrides, tmp_path)
    assert not (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert not (tmp_path / "checkpoints" / "last_good.ckpt").exists()


def test_nan_from_the_online_probe_stops_the_run(tmp_path, monkeypatch):
    """The online probe's loss is watched like the heads' (today's guard does not read it)."""
    original = hyperssl.methods.base.labelled_cross_entropy
    training_calls = []

    def nan_on_third_training_step(logits, labels):
        value = original(logits, labels)
        if logits.requires_grad:  # the probe's training loss, not validation's
            training_calls.append(1)
            return value * float("nan") if len(training_calls) == 3 else value
        return value

    monkeypatch.setattr(hyperssl.methods.base, "labelled_cross_entropy", nan_on_third_training_step)
    with pytest.raises(
        NonFiniteLossError,
        match=r"^step 2: the online probe's loss 'train/probe_loss' produced nan; the state before "
        r"this step is in checkpoints/last_good.ckpt$",
    ):
        run_pretrain(["trainer.limit_train_batches=5"], tmp_path)
    saved, tensors = checkpoint_tensors(tmp_path / "checkpoints" / "last_good.ckpt")
    assert saved["global_step"] == 2
    assert non_finite(tensors) == []


def test_nan_from_a_head_stops_the_run_and_keeps_the_last_good_state(tmp_path, monkeypatch):
    original = UniformityHead.forward
    calls = []

    def nan_on_third_step(self, out):
        calls.append(1)
        value = original(self, out)
        return value * float("nan") if len(calls) == 3 else value

    monkeypatch.setattr(UniformityHead, "forward", nan_on_third_step)
    with pytest.raises(NonFiniteLossError, match=r"step 2: head 'uniformity' produced nan"):
        run_pretrain(["heads=[uniformity]", "trainer.limit_train_batches=5"], tmp_path)

    saved = torch.load(tmp_path / "checkpoints" / "last_good.ckpt", weights_only=True)
    assert saved["global_step"] == 2
    assert all(torch.isfinite(value).all() for value in saved["state_dict"].values())


def test_deferred_guard_names_the_step_and_never_checkpoints_damaged_weights(tmp_path, monkeypatch):
    """nan_guard=deferred (the accelerator default) reads its record only where the host reads
    anyway; the checkpoint due at the end of the epoch of the NaN is refused."""
    original = UniformityHead.forward
    calls = []

    def nan_on_fifth_step(self, out):
        calls.append(1)
        value = original(self, out)
        return value * float("inf") if len(calls) == 5 else value

    monkeypatch.setattr(UniformityHead, "forward", nan_on_fifth_step)
    overrides = [
        "heads=[uniformity]",
        "nan_guard=deferred",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=3",
        "trainer.log_every_n_steps=100",
    ]
    with pytest.raises(NonFiniteLossError, match=r"^step 4: head 'uniformity' produced -?inf; "):
        run_pretrain(overrides, tmp_path)

    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 3  # the end of the first epoch: the last good state
    assert all(torch.isfinite(value).all() for value in last["state_dict"].values())
    assert not (tmp_path / "checkpoints" / "last_good.ckpt").exists()


def test_linear_probe_stops_at_the_step_that_overflows_the_backbone(
    pretrained_run, cifar10_root, tmp_path
):
    """main_linear.py finetune=true: a backbone lr that overflows BatchNorm's statistics stops the
    probe at that step, naming what it broke, with no summary (today's guard saw only the NaN
    loss of a later step)."""
    overrides = [
        *linear_overrides(pretrained_run, cifar10_root, tmp_path / "cache", epochs=1),
        "finetune=true",
        "linear.backbone_lr=1e20",
        "scheduler.warmup_epochs=0",
    ]
    with pytest.raises(
        NonFiniteLossError,
        match=r"^step \d+ made (parameter|buffer) 'encoder\.[\w.]+' (nan|inf).*; the probe "
        r"stopped, with no accuracy; try a lower optimizer.lr or linear.backbone_lr$",
    ):
        run_linear(overrides, tmp_path / "run")
    assert not (tmp_path / "run" / "summary.json").exists()


def test_guard_record_keeps_the_first_bad_step_of_each_loss():
    guard = NonFiniteGuard({"a": "head 'a'", "b": "the loss 'b'"})
    finite = torch.tensor(1.0)
    guard.observe({"a": finite, "b": finite}, step=0)
    assert guard.failure() is None
    guard.observe({"a": finite, "b": torch.tensor(float("nan"))}, step=1)
    guard.observe({"a": torch.tensor(float("inf")), "b": torch.tensor(2.0)}, step=2)
    assert guard.failure() == "step 1: the loss 'b' produced nan"
    both = NonFiniteGuard({"a": "head 'a'", "b": "head 'b'"})
    both.observe({"a": torch.tensor(float("inf")), "b": torch.tensor(float("nan"))}, step=7)
    assert (
        both.failure() == "step 7: head 'a' produced inf (also non-finite at that step: head 'b')"
    )
