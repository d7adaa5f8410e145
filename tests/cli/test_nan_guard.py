"""A head that produces NaN stops the run, naming the step and the head, after saving the state."""

import pytest
import torch
from hydra_runs import run_pretrain

from hyperssl.errors import NonFiniteLossError
from hyperssl.heads.uniformity import UniformityHead
from hyperssl.methods.nan_guard import NonFiniteGuard


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


def test_guard_record_keeps_the_first_bad_step_of_each_head():
    guard = NonFiniteGuard(["a", "b"])
    finite = torch.tensor(1.0)
    guard.observe({"a": finite, "b": finite}, step=0)
    assert guard.failure() is None
    guard.observe({"a": finite, "b": torch.tensor(float("nan"))}, step=1)
    guard.observe({"a": torch.tensor(float("inf")), "b": torch.tensor(2.0)}, step=2)
    assert guard.failure() == "step 1: head 'b' produced nan"
    both = NonFiniteGuard(["a", "b"])
    both.observe({"a": torch.tensor(float("inf")), "b": torch.tensor(float("nan"))}, step=7)
    assert both.failure() == "step 7: head 'a' produced inf (also non-finite at that step: b)"
    with pytest.raises(NonFiniteLossError, match=r"^step 7: .*; see here$"):
        both.raise_if_failed("see here")
