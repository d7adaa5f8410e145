"""The NaN guard's hooks in a method's training loop (the guard itself: :mod:`nan_guard`).

A mixin of :class:`hyperssl.methods.base.BaseMethod`: it snapshots the state before each optimizer
step (``nan_guard=step``), reads the loss record and checks the state where the mode says, writes
``checkpoints/last_good.ckpt`` when a step fails, and refuses to write any checkpoint holding a NaN
or inf (``on_save_checkpoint`` of the method calls :meth:`_raise_if_not_finite`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from hyperssl.errors import NonFiniteLossError
from hyperssl.methods.nan_guard import NonFiniteGuard, StateGuard, StateSnapshot, any_process

LAST_GOOD = "checkpoints/last_good.ckpt"


class NanGuardHooks:
    """Training-loop hooks of the NaN guard; the method calls :meth:`set_up_nan_guard` in its
    constructor and :meth:`_snapshot_before_step` first in its training step."""

    def set_up_nan_guard(self, losses: dict[str, str]) -> None:
        """Watch ``losses`` (log key -> how messages name it) and the state."""
        self.nan_guard = NonFiniteGuard(losses)
        self.state_guard = StateGuard()
        self._state_before_step = StateSnapshot()  # nan_guard=step: put back if a step fails
        self._snapshot_due = True  # the first (micro-)batch of an optimizer step takes it
        self._nan_check_each_step = True  # resolved from cfg.nan_guard in on_fit_start

    def _snapshot_before_step(self) -> None:
        if self._nan_check_each_step and self._snapshot_due and self._trainer is not None:
            self._state_before_step.take(self, self.trainer.optimizers)
            self._snapshot_due = False

    def _stop_if_a_loss_is_not_finite(self) -> None:
        """``nan_guard=step``, before the optimizer step: one host read of the loss record."""
        failure = self.nan_guard.failure()
        if any_process(self, failure is not None):
            self._stop_at_last_good_state(
                failure or f"step {self.global_step}: a loss of another process was non-finite"
            )

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        self._snapshot_due = True
        if self._nan_check_each_step:
            failure = self.state_guard.after(self, self.global_step + 1)  # not yet counted
            if failure is not None:
                self._stop_at_last_good_state(failure)

    def _stop_at_last_good_state(self, failure: str) -> NoReturn:
        """``nan_guard=step``: put back the state from before this step, save it as
        ``checkpoints/last_good.ckpt`` and stop, naming the step and what failed."""
        optimizers = self.trainer.optimizers if self._trainer is not None else []
        restored = self._state_before_step.restore(self, optimizers)
        run_dir = self.trainer.default_root_dir if self._trainer is not None else None
        if not (restored and run_dir):
            raise NonFiniteLossError(failure)
        before = self.state_guard.after(self, self.global_step)
        if before is not None:  # broken after the previous step's check (a queue push)
            raise NonFiniteLossError(f"{failure}; the state before this step was not finite either")
        self.trainer.save_checkpoint(Path(run_dir) / LAST_GOOD)
        raise NonFiniteLossError(f"{failure}; the state before this step is in {LAST_GOOD}")

    def _check_where_the_host_reads(self) -> None:
        """``nan_guard=deferred``: read the device-side loss record and check the state where the
        host reads anyway (logging steps, validation, the end of training)."""
        if not self._nan_check_each_step:
            self._raise_if_not_finite(self.global_step)

    def _raise_if_not_finite(self, steps_done: int) -> None:
        """Raise if the loss record (deferred mode) or the state after ``steps_done`` steps holds
        a NaN or inf: what precedes every checkpoint, so none holding one is written."""
        loss = None if self._nan_check_each_step else self.nan_guard.failure()
        if any_process(self, loss is not None) and loss is None:
            loss = "a loss of another process was non-finite"
        failures = [loss, self.state_guard.after(self, steps_done)]
        found = "; ".join(failure for failure in failures if failure is not None)
        if found:
            raise NonFiniteLossError(
                f"{found}; no checkpoint was written after it, so checkpoints/last.ckpt (if any) "
                "is the last good state"
            )

    def on_train_start(self) -> None:
        failure = self.state_guard.at_start(self)
        if failure is not None:
            raise NonFiniteLossError(
                f"{failure}; resume from a checkpoint whose tensors are finite"
            )

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.global_step % self.trainer.log_every_n_steps == 0:
            self._check_where_the_host_reads()

    def on_validation_start(self) -> None:
        self._check_where_the_host_reads()  # before validation reads damaged weights

    def on_train_end(self) -> None:
        self._check_where_the_host_reads()
