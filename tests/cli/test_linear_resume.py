"""A real ``main_linear.py`` stopped mid-epoch by SIGTERM (a SLURM pre-emption, a time limit)
exits 75 with one line and ``checkpoints/interrupted.ckpt``; ``resume=auto`` continues it to
exactly the head of an uninterrupted probe, on cached features and on augmented images read by
two DataLoader workers. A probe of another encoder, or a bad ``resume``, is refused in one line.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch
from hydra_runs import linear_overrides, run_linear
from paused_runs import signal_paused_run

from hyperssl import ConfigError
from hyperssl.cli.errors import EXIT_INTERRUPTED

# 64 training images in batches of 16: 4 steps an epoch, 3 epochs; the signal comes in epoch 1.
STEPS_PER_EPOCH, EPOCHS, STOP_AFTER = 4, 3, 6
PROBES = {
    "cached_features": ["linear.augment=false"],
    "augmented_images": ["linear.augment=true", "data.num_workers=2"],
}


def interrupt_at(step: int, run_dir: Path, overrides: list[str], log: Path) -> tuple[int, str]:
    """``main_linear.py`` paused after ``step``, then SIGTERM to its process group (its workers
    included, as SLURM sends it); its exit status and stderr."""
    arguments = [*overrides, f"hydra.run.dir={run_dir}"]
    return signal_paused_run("main_linear.py", step, signal.SIGTERM, arguments, log)


def head_of(run_dir: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return {name: tensor for name, tensor in state.items() if name.startswith("head.")}


@pytest.fixture(scope="module", params=list(PROBES))
def probe(request, pretrained_run, cifar10_root, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp(request.param)
    overrides = [
        *linear_overrides(pretrained_run, cifar10_root, root / "cache", epochs=EPOCHS),
        *PROBES[request.param],
    ]
    run_dir = root / "run"
    status, stderr = interrupt_at(STOP_AFTER, run_dir, overrides, root / "interrupted.log")
    interrupted = torch.load(
        run_dir / "checkpoints" / "interrupted.ckpt", map_location="cpu", weights_only=True
    )
    summary_after_stop = (run_dir / "summary.json").exists()
    resumed = run_linear([*overrides, "resume=auto"], run_dir)
    uninterrupted = run_linear([*overrides, "resume=auto"], root / "uninterrupted")
    return {
        "overrides": overrides,
        "run_dir": run_dir,
        "status": status,
        "stderr": stderr,
        "interrupted_step": interrupted["global_step"],
        "summary_after_stop": summary_after_stop,
        "resumed": resumed,
        "uninterrupted": uninterrupted,
        "resumed_head": head_of(run_dir),
        "uninterrupted_head": head_of(root / "uninterrupted"),
    }


def test_a_signal_mid_epoch_exits_75_with_one_line_and_no_summary(probe):
    checkpoint = probe["run_dir"] / "checkpoints" / "interrupted.ckpt"
    assert probe["status"] == EXIT_INTERRUPTED == 75
    assert probe["stderr"].splitlines()[-1] == (
        f"error: interrupted by SIGTERM at step {STOP_AFTER}; checkpoint saved to {checkpoint}; "
        "continue with resume=auto"
    )
    assert "Traceback" not in probe["stderr"]
    assert not probe["summary_after_stop"]
    assert probe["interrupted_step"] == STOP_AFTER


def test_resume_auto_continues_from_the_interrupt_checkpoint(probe):
    checkpoint = probe["run_dir"] / "checkpoints" / "interrupted.ckpt"
    assert probe["resumed"]["resumed_from"] == str(checkpoint)
    assert probe["resumed"]["global_step"] == EPOCHS * STEPS_PER_EPOCH


def test_resume_auto_in_a_new_run_directory_starts_it(probe):
    assert probe["uninterrupted"]["resumed_from"] is None
    assert probe["uninterrupted"]["global_step"] == EPOCHS * STEPS_PER_EPOCH


def test_the_resumed_probe_ends_with_the_uninterrupted_head(probe):
    resumed, uninterrupted = probe["resumed_head"], probe["uninterrupted_head"]
    assert resumed.keys() == uninterrupted.keys() == {"head.weight", "head.bias"}
    assert [name for name in resumed if not torch.equal(resumed[name], uninterrupted[name])] == []
    assert probe["resumed"]["linear_top1"] == probe["uninterrupted"]["linear_top1"]


def test_a_finished_probe_is_not_run_again_without_resume(probe, tmp_path):
    with pytest.raises(ConfigError, match=r"already holds a run"):
        run_linear(probe["overrides"], probe["run_dir"])


def test_resuming_with_another_encoder_is_refused_in_one_line(probe, pretrained_run, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    interrupted = probe["run_dir"] / "checkpoints" / "interrupted.ckpt"
    (run_dir / "checkpoints" / "interrupted.ckpt").write_bytes(interrupted.read_bytes())
    other = pretrained_run / "backbone.safetensors"  # the same weights, another file
    overrides = [*probe["overrides"], f"pretrained_feature_extractor={other}", "resume=auto"]
    with pytest.raises(ConfigError) as refused:
        run_linear(overrides, run_dir)
    message = str(refused.value)
    assert message.startswith(f"resume: {run_dir / 'checkpoints' / 'interrupted.ckpt'} is a probe")
    assert f"this run's encoder is {other.resolve()}" in message
    assert "\n" not in message


def test_a_pretraining_checkpoint_is_not_a_probe_to_resume(pretrained_run, cifar10_root, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    pretraining = pretrained_run / "checkpoints" / "last.ckpt"
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(pretraining.read_bytes())
    overrides = linear_overrides(pretrained_run, cifar10_root, tmp_path / "cache")
    with pytest.raises(ConfigError, match="is not a hyperssl linear-probe checkpoint"):
        run_linear([*overrides, "resume=auto"], run_dir)


@pytest.mark.parametrize("value", ["yes", "/some/run"])
def test_resume_takes_null_or_auto(pretrained_run, cifar10_root, tmp_path, value):
    overrides = linear_overrides(pretrained_run, cifar10_root, tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"resume: got .*; allowed: null or auto"):
        run_linear([*overrides, f"resume={value}"], tmp_path / "run")
