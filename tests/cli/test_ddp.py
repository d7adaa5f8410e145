"""Lightning DDP on 2 CPU processes (gloo) through the real entry point, and resume under it."""

import torch
from hydra_runs import TINY, run_entry

# The ddp preset (channels-last, bf16) on the CPU, as a user without GPUs would run it.
DDP = [
    *(option for option in TINY if option != "trainer=cpu"),
    "trainer=ddp",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
    "trainer.devices=2",
    "method=mocov2plus",
    "method.queue_size=128",
    "knn.enabled=false",
]


def last_state(run_dir, name="last.ckpt"):
    return torch.load(run_dir / "checkpoints" / name, weights_only=True)


def test_ddp_run_fills_the_queue_with_the_keys_of_both_ranks(tmp_path):
    result = run_entry("main_pretrain.py", [*DDP, f"hydra.run.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    state = last_state(tmp_path)
    assert state["global_step"] == 3
    # 3 steps x 2 ranks x 16 = 96 keys per view through queues of 128: pointer at 96. A queue
    # filled per rank would have advanced by 48.
    assert int(state["state_dict"]["queue.ptr"]) == 96
    # One log (the first process's), no channels-last gradient warnings on the CPU.
    assert not list(tmp_path.glob("train_ddp_process_*"))
    assert "Grad strides do not match" not in result.stderr


def test_resume_under_ddp_continues_the_same_run(tmp_path):
    run = [*DDP, "trainer.max_epochs=2", "checkpoint.keep_every_epoch=true"]
    straight = run_entry("main_pretrain.py", [*run, f"hydra.run.dir={tmp_path / 'straight'}"])
    assert straight.returncode == 0, straight.stderr[-3000:]
    first_epoch = tmp_path / "straight" / "checkpoints" / "epoch000.ckpt"
    resumed = run_entry(
        "main_pretrain.py",
        [*run, f"resume={first_epoch}", f"hydra.run.dir={tmp_path / 'resumed'}"],
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    end, again = last_state(tmp_path / "straight"), last_state(tmp_path / "resumed")
    assert again["global_step"] == end["global_step"] == 6
    for name, value in end["state_dict"].items():
        assert torch.equal(again["state_dict"][name], value), name
