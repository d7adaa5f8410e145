import pytest
import torch

from hyperssl import checkpoint_io
from hyperssl.checkpoint_io import AtomicCheckpointIO


def test_checkpoint_is_written_and_loads(tmp_path):
    AtomicCheckpointIO().save_checkpoint({"step": torch.tensor(3)}, tmp_path / "c" / "last.ckpt")
    assert torch.load(tmp_path / "c" / "last.ckpt", weights_only=True)["step"] == 3
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["last.ckpt"]


def test_a_write_that_dies_midway_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": torch.tensor(1)}, target)

    def dies_midway(obj, file):
        file.write(b"partial bytes of a checkpoint")
        raise KeyboardInterrupt("killed during the save")

    monkeypatch.setattr(checkpoint_io.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
