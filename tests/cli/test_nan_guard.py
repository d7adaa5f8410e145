"""A head that produces NaN stops the run, naming the step and the head, after saving the state."""

import pytest
import torch
from hydra_runs import run_pretrain

from hyperssl.errors import NonFiniteLossError
from hyperssl.heads.hyperspherical import UniformityHead


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
