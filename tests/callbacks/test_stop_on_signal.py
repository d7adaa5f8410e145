"""A stop signal's handler from before training (submitit's, in a job it launched) runs once the
step in flight is saved, not when the signal arrives."""

import signal

import pytest
import pytorch_lightning as pl
from hydra_runs import run_pretrain

from hyperssl.cli import pretrain
from hyperssl.errors import TrainingInterruptedError


class SignalAfterStep(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            signal.raise_signal(signal.SIGUSR2)


def test_the_handler_before_training_runs_after_the_checkpoint_is_saved(monkeypatch, tmp_path):
    checkpoint = tmp_path / "run" / "checkpoints" / "interrupted.ckpt"
    calls: list[tuple[int, bool]] = []
    build = pretrain.build_trainer

    def build_with_signal(*args, **kwargs) -> pl.Trainer:
        trainer = build(*args, **kwargs)
        trainer.callbacks.insert(0, SignalAfterStep(2))
        return trainer

    monkeypatch.setattr(pretrain, "build_trainer", build_with_signal)
    previous = signal.signal(
        signal.SIGUSR2, lambda signum, _: calls.append((signum, checkpoint.exists()))
    )
    try:
        with pytest.raises(TrainingInterruptedError, match="interrupted by SIGUSR2 at step 2"):
            run_pretrain(["trainer.max_epochs=2"], tmp_path / "run")
        assert calls == [(signal.SIGUSR2, True)]
        # Training is over: the handler from before is in place again.
        assert signal.getsignal(signal.SIGUSR2) not in (signal.SIG_DFL, signal.SIG_IGN)
        signal.raise_signal(signal.SIGUSR2)
        assert len(calls) == 2
    finally:
        signal.signal(signal.SIGUSR2, previous)
