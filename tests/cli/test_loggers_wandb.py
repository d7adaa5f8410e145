"""``logger=wandb`` offline: one wandb run per job of a sweep, finished when its job ends."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra_runs import TINY, compose_pretrain, entry_environment, run_entry, run_pretrain

from hyperssl.loggers import build_loggers, closing_loggers

# 0.31: the first version these tests ran with; `wandb leet inspect` reads the offline runs.
pytest.importorskip("wandb", minversion="0.31", reason="pip install 'hyperssl[wandb]'")

WANDB = ["logger=wandb", "logger.offline=true"]


@pytest.fixture(autouse=True)
def offline_wandb(tmp_path, monkeypatch):
    """No network, no key, and nothing written outside tmp_path."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    for name in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb_home" / name.lower()))


def read_wandb_run(run_dir: Path) -> dict:
    """The one offline wandb run under ``run_dir``, read from its .wandb log with wandb's own
    reader: id, name, group, config, history rows, summary and exit code."""
    (path,) = run_dir.glob("wandb/offline-run-*")
    listing = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    run = {"config": {}, "history": [], "summary": {}, "exit_code": None}
    for record in map(json.loads, listing.stdout.splitlines()):
        kind = record["type"]
        if kind == "run":
            about = record["run"]
            run["id"] = about["run_id"]
            run["name"], run["group"] = about.get("display_name"), about.get("run_group")
        elif kind == "config":
            run["config"] |= record["config"]["update"]
        elif kind == "history":
            run["history"].append(record["history"]["item"])
        elif kind == "summary":
            run["summary"] |= record["summary"]["update"]
        elif kind == "exit":
            run["exit_code"] = record["exit"].get("exit_code", 0)
    return run


def training_steps(run: dict) -> list[int]:
    return [row["trainer/global_step"] for row in run["history"] if "train/loss" in row]


def test_each_job_of_a_sweep_is_its_own_wandb_run_in_the_sweep_group(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_entry(
        "main_pretrain.py",
        ["-m", *TINY, *WANDB, "geometry=cosine,geodesic", f"hydra.sweep.dir={sweep}"],
        timeout=600,
        environment=entry_environment(),  # offline_wandb's variables
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(path.parent for path in sweep.glob("*/summary.json"))
    runs = [read_wandb_run(job) for job in jobs]

    assert len(runs) == 2 and runs[0]["id"] != runs[1]["id"]
    assert [run["group"] for run in runs] == ["sweep", "sweep"]  # the sweep directory
    for job, run, geometry in zip(jobs, runs, ["cosine", "geodesic"], strict=True):
        name, overrides = run["name"].split("/", 1)
        assert name == "simclr-digits"
        assert {f"geometry={geometry}", "logger=wandb", "knn.k=5"} <= set(overrides.split(","))
        assert run["config"]["geometry"]["name"] == geometry
        assert training_steps(run) == [0, 1, 2]  # its own 3 steps, not the other job's
        summary = json.loads((job / "summary.json").read_text())
        assert run["summary"]["knn_top1"] == pytest.approx(summary["knn_top1"])
        assert run["exit_code"] == 0


def test_a_failed_job_finishes_its_run_as_failed_and_the_next_job_starts_its_own(
    tmp_path, monkeypatch
):
    from hyperssl.cli import pretrain

    def broken_knn(*args):
        raise RuntimeError("the k-NN evaluation broke")

    with monkeypatch.context() as patched:
        patched.setattr(pretrain, "knn_of_backbone", broken_knn)
        with pytest.raises(RuntimeError, match="k-NN evaluation broke"):
            run_pretrain(WANDB, tmp_path / "failed")
    run_pretrain(WANDB, tmp_path / "next")

    failed, following = read_wandb_run(tmp_path / "failed"), read_wandb_run(tmp_path / "next")
    assert failed["id"] != following["id"]
    assert failed["exit_code"] == 1 and "knn_top1" not in failed["summary"]
    assert following["exit_code"] == 0 and "knn_top1" in following["summary"]
    assert training_steps(failed) == training_steps(following) == [0, 1, 2]


def test_a_run_left_open_by_an_earlier_job_is_finished_as_failed_not_reused(tmp_path):
    import wandb

    (tmp_path / "earlier").mkdir()
    wandb.init(project="hyperssl", dir=tmp_path / "earlier")  # a job that never closed it
    loggers = build_loggers(compose_pretrain([*TINY, *WANDB], tmp_path / "next"), tmp_path / "next")
    with closing_loggers(loggers):
        pass

    earlier, following = read_wandb_run(tmp_path / "earlier"), read_wandb_run(tmp_path / "next")
    assert earlier["id"] != following["id"]
    assert (earlier["exit_code"], following["exit_code"]) == (1, 0)
