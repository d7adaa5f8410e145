"""Every run keeps metrics.csv, whatever else it logs to; its final results reach every logger."""

import sys
from contextlib import nullcontext
from unittest.mock import Mock

import pytest
from hydra_runs import (
    compose_pretrain,
    metric_values,
    read_metrics,
    run_pretrain,
    tensorboard_scalars,
)
from pytorch_lightning.loggers import CSVLogger, WandbLogger

from hyperssl import ConfigError
from hyperssl.loggers import build_loggers, closing_loggers, log_final_metrics


def test_final_metrics_are_one_more_row_of_metrics_csv_at_the_given_step(tmp_path):
    logger = CSVLogger(tmp_path, name="", version="")
    logger.log_metrics({"train/loss": 2.5}, step=6)
    log_final_metrics([logger], {"knn_top1": 50.0, "knn_top5": 87.5}, step=7)
    assert read_metrics(tmp_path) == [
        {"knn_top1": "", "knn_top5": "", "step": "6", "train/loss": "2.5"},
        {"knn_top1": "50.0", "knn_top5": "87.5", "step": "7", "train/loss": ""},
    ]


def test_a_new_runs_csv_logger_does_not_warn_that_its_run_directory_is_not_empty(tmp_path, recwarn):
    """The run directory holds the run's own config before the CSV writer starts (at the first
    row, after the Trainer is built)."""
    from hyperssl.cli.compose import compose_config
    from hyperssl.cli.trainer import build_trainer

    (tmp_path / "config.yaml").write_text("written first by the run\n")
    cfg = compose_config("pretrain", ["logger=csv", "trainer=cpu"])
    (logger,) = build_trainer(cfg, tmp_path, has_validation=False).loggers
    logger.log_metrics({"train/loss": 1.0}, step=0)
    logger.save()
    assert [str(w.message) for w in recwarn if "not empty" in str(w.message)] == []
    assert read_metrics(tmp_path) == [{"step": "0", "train/loss": "1.0"}]
    assert (tmp_path / "config.yaml").read_text() == "written first by the run\n"


def test_final_metrics_are_the_wandb_run_summary():
    logger = Mock(spec=WandbLogger)  # no wandb package needed
    log_final_metrics([logger], {"knn_top1": 50.0}, step=7)
    logger.experiment.summary.update.assert_called_once_with({"knn_top1": 50.0})
    logger.log_metrics.assert_not_called()


@pytest.mark.parametrize("fails,status,exit_code", [(False, "success", 0), (True, "failed", 1)])
def test_closing_loggers_finishes_the_wandb_run_with_the_outcome(fails, status, exit_code):
    logger = Mock(spec=WandbLogger)
    with pytest.raises(RuntimeError) if fails else nullcontext(), closing_loggers([logger]):
        if fails:
            raise RuntimeError("job failed")
    logger.finalize.assert_called_once_with(status)
    logger.experiment.finish.assert_called_once_with(exit_code=exit_code)


def test_a_csv_run_logs_its_final_knn_to_metrics_csv(tmp_path):
    summary = run_pretrain([], tmp_path)
    assert metric_values(tmp_path, "knn_top1") == [summary["knn_top1"]]
    assert metric_values(tmp_path, "knn_top5") == [summary["knn_top5"]]


@pytest.fixture(scope="module")
def tensorboard_run(tmp_path_factory):
    pytest.importorskip("tensorboard", reason="pip install 'hyperssl[tensorboard]'")
    run_dir = tmp_path_factory.mktemp("tensorboard_run")
    return run_dir, run_pretrain(["logger=tensorboard"], run_dir)


def test_a_tensorboard_run_also_writes_metrics_csv(tensorboard_run):
    run_dir, summary = tensorboard_run
    assert len(metric_values(run_dir, "train/loss")) == 3  # one per training step
    assert metric_values(run_dir, "knn_top1") == [summary["knn_top1"]]


def test_tensorboard_holds_the_final_knn_and_no_placeholder_hp_metric(tensorboard_run):
    run_dir, summary = tensorboard_run
    scalars = tensorboard_scalars(run_dir)
    assert scalars["knn_top1"] == [pytest.approx(summary["knn_top1"])]
    assert scalars["knn_top5"] == [pytest.approx(summary["knn_top5"])]
    assert len(scalars["train/loss"]) == 3
    assert "hp_metric" not in scalars


def test_wandb_logger_without_the_package_is_a_one_line_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    cfg = compose_pretrain(["logger=wandb"], tmp_path)
    with pytest.raises(ConfigError) as refused:
        build_loggers(cfg, tmp_path)
    assert str(refused.value) == (
        'logger: wandb is not installed; allowed: pip install "hyperssl[wandb]"'
    )
