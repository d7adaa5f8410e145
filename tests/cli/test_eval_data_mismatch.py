"""An encoder evaluated on another data set than it was pretrained on: ``latest`` naming such a
run is refused, an explicit checkpoint only warns (a transfer evaluation), and the run ``latest``
chose is named with its data set."""

import logging
import shutil

import pytest
from hydra_runs import compose_pretrain, run_entry

from hyperssl.cli import knn

RUN_NAME = "outputs/simclr-cifar10/2024-01-01_00-00-00"


@pytest.fixture
def cifar10_run_as_latest(pretrained_run, tmp_path):
    """A working folder whose outputs/ holds the CIFAR-10 fixture run as its only (so newest)
    pretraining run; returns that run's directory."""
    run = tmp_path / RUN_NAME
    shutil.copytree(pretrained_run, run)
    return run.resolve()


def knn_overrides(cache_dir):
    return [
        "data.num_workers=0",
        "knn.k=[5]",
        "knn.feature_type=[backbone]",
        "knn.distance_function=[cosine]",
        f"feature_cache.dir={cache_dir}",
    ]


@pytest.mark.parametrize("script", ["main_linear.py", "main_knn.py"])
def test_latest_pretrained_on_another_data_set_is_refused(script, cifar10_run_as_latest, tmp_path):
    arguments = [
        "data.num_workers=0",
        f"feature_cache.dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'eval'}",
    ]
    result = run_entry(script, arguments, cwd=tmp_path)  # data=digits, the default
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert lines[0].startswith(
        f"error: pretrained_feature_extractor: latest is {cifar10_run_as_latest}, pretrained on "
        "cifar10, but the evaluation is on digits (data.dataset); allowed: a run pretrained on "
        "digits, or an explicit path"
    ), lines[0]


def test_latest_names_the_chosen_run_and_its_data_set(
    cifar10_run_as_latest, cifar10_root, tmp_path, monkeypatch, caplog
):
    monkeypatch.chdir(tmp_path)
    overrides = [
        *knn_overrides(tmp_path / "cache"),
        "data=cifar10",
        f"data.train_path={cifar10_root}",
    ]
    with caplog.at_level(logging.INFO, logger="hyperssl"):
        summary = knn.run(compose_pretrain(overrides, tmp_path / "eval", config_name="knn"))
    chosen = [r.getMessage() for r in caplog.records if "latest" in r.getMessage()]
    assert chosen == [
        "pretrained_feature_extractor=latest: the newest pretraining run under outputs is "
        f"{cifar10_run_as_latest}, pretrained on cifar10 (last.ckpt)"
    ]
    assert summary["pretrain_dataset"] == summary["dataset"] == "cifar10"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "cifar10" in r.msg]


def test_an_explicit_checkpoint_of_another_data_set_warns_and_evaluates(
    pretrained_run, tmp_path, caplog
):
    overrides = [
        *knn_overrides(tmp_path / "cache"),
        f"pretrained_feature_extractor={pretrained_run}",
    ]
    with caplog.at_level(logging.WARNING, logger="hyperssl"):
        summary = knn.run(compose_pretrain(overrides, tmp_path / "eval", config_name="knn"))
    (warning,) = [r.getMessage() for r in caplog.records if "transfer" in r.getMessage()]
    checkpoint = pretrained_run / "checkpoints" / "last.ckpt"
    assert warning == (
        f"{checkpoint} was pretrained on cifar10 and is evaluated on digits (data.dataset): "
        "a transfer evaluation"
    )
    assert (summary["pretrain_dataset"], summary["dataset"]) == ("cifar10", "digits")
    assert summary["num_val"] == 360  # every digits validation image was scored
