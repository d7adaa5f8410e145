import os
import subprocess
import sys

import pytest
import torch

from hyperssl import checkpoint_io
from hyperssl.checkpoint_io import AtomicCheckpointIO, remove_stale_temporaries, temporary_path


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


def test_stale_temporaries_of_dead_writers_are_removed_and_a_live_writers_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = [
            f".last.ckpt.{dead.pid}.tmp",
            f".best.ckpt.{os.getpid()}.tmp",  # this process has saved nothing yet: a reused pid
            f".last.ckpt.{live.pid}.tmp",
            "last.ckpt",
            "notes.tmp",
        ]
        for name in names:
            (tmp_path / name).write_bytes(b"partial")
        removed = remove_stale_temporaries(tmp_path)
    finally:
        live.kill()
        live.wait()
    assert sorted(path.name for path in removed) == sorted(names[:2])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[2:])


def test_removing_stale_temporaries_of_a_missing_folder_removes_nothing(tmp_path):
    assert remove_stale_temporaries(tmp_path / "checkpoints") == []


def test_temporaries_are_named_by_target_and_writer(tmp_path):
    assert temporary_path(tmp_path / "last.ckpt", 42) == tmp_path / ".last.ckpt.42.tmp"
    assert temporary_path(tmp_path / "x.ckpt") == tmp_path / f".x.ckpt.{os.getpid()}.tmp"
