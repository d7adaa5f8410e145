"""resume=<run dir> continues where the run stopped: step, optimizer, schedule, weights."""

import pytest
import pytorch_lightning as pl
import torch
from hydra_runs import metric_by_step, run_pretrain
from method_overrides import small

from hyperssl import ConfigError
from hyperssl.cli import pretrain
from hyperssl.methods import METHODS

STEPS_PER_EPOCH = 2
RUN = [
    f"trainer.limit_train_batches={STEPS_PER_EPOCH}",
    "trainer.limit_val_batches=0",
    "knn.enabled=false",
    "scheduler.warmup_epochs=1",
    "trainer.max_epochs=3",
]


class SimulatedCrashError(RuntimeError):
    pass


class CrashAtEpoch(pl.Callback):
    """Stops the run like a crash at the start of an epoch, after the last checkpoint."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == self.epoch:
            raise SimulatedCrashError(f"crash at epoch {self.epoch}")


def lr_by_step(run_dir):
    return dict(metric_by_step(run_dir, "lr-Lars/backbone"))


def crashing_trainer(monkeypatch, epoch):
    build = pretrain.build_trainer

    def build_then_add_crash(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.callbacks.append(CrashAtEpoch(epoch))
        return trainer

    monkeypatch.setattr(pretrain, "build_trainer", build_then_add_crash)


# One view per image for the supervised method (its objective needs no pairs).
ONE_VIEW = {"supervised": ["augmentations.0.num_crops=1"]}


@pytest.mark.parametrize("method", METHODS.names())
def test_resume_continues_at_the_right_step_with_the_same_state(method, tmp_path, monkeypatch):
    run = [*RUN, *small(method), *ONE_VIEW.get(method, [])]
    straight = run_pretrain(run, tmp_path / "straight")
    with monkeypatch.context() as patch:
        crashing_trainer(patch, epoch=2)
        with pytest.raises(SimulatedCrashError):
            run_pretrain(run, tmp_path / "crashed")
    saved = torch.load(tmp_path / "crashed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 2 * STEPS_PER_EPOCH

    resumed = run_pretrain([*run, f"resume={tmp_path / 'crashed'}"], tmp_path / "resumed")

    assert resumed["global_step"] == straight["global_step"] == 3 * STEPS_PER_EPOCH
    assert resumed["resumed_from"].endswith("last.ckpt")
    # The schedule continues: the lr of the last epoch's steps equals the uninterrupted run's.
    straight_lrs, resumed_lrs = lr_by_step(tmp_path / "straight"), lr_by_step(tmp_path / "resumed")
    assert sorted(resumed_lrs) == list(range(2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH))
    for step, lr in resumed_lrs.items():
        assert lr == pytest.approx(straight_lrs[step], rel=1e-6)
    # Optimizer state (momentum buffers), random state and weights continue exactly; so does
    # every method's state (state_dict entries): momentum encoders and their τ, queues, centers,
    # prototypes.
    end_straight = torch.load(
        tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True
    )
    end_resumed = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    for name, value in end_straight["state_dict"].items():
        torch.testing.assert_close(end_resumed["state_dict"][name], value, msg=name)
    momentum = end_straight["optimizer_states"][0]["state"]
    for index, state in end_resumed["optimizer_states"][0]["state"].items():
        torch.testing.assert_close(state["momentum_buffer"], momentum[index]["momentum_buffer"])


def test_resume_from_a_missing_checkpoint_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="resume: no checkpoint at .*nowhere; allowed: a .ckpt"):
        run_pretrain([f"resume={tmp_path / 'nowhere'}"], tmp_path / "run")
