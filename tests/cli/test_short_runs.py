"""A run no longer than its warm-up never trains at the full learning rate: pretraining and the
linear probe warn, naming scheduler.warmup_epochs and trainer.max_epochs."""

import logging

import pytest
from hydra_runs import compose_pretrain, run_pretrain

from hyperssl.eval.schema import validate_linear
from hyperssl.validation import validate_pretrain, warn_if_warmup_covers_the_run

VALIDATE = {"pretrain": validate_pretrain, "linear": validate_linear}


def warmup_warnings(config_name, overrides, tmp_path, caplog):
    cfg = compose_pretrain(overrides, tmp_path, config_name=config_name)
    with caplog.at_level(logging.WARNING, logger="hyperssl"):
        VALIDATE[config_name](cfg)
        warn_if_warmup_covers_the_run(cfg)
    return [r.getMessage() for r in caplog.records if "scheduler.warmup_epochs" in r.getMessage()]


@pytest.mark.parametrize("config_name", sorted(VALIDATE))
def test_a_warmup_as_long_as_the_run_is_warned_about(config_name, tmp_path, caplog):
    overrides = ["scheduler.warmup_epochs=2", "trainer.max_epochs=2"]
    (warning,) = warmup_warnings(config_name, overrides, tmp_path, caplog)
    assert warning.startswith(
        "scheduler.warmup_epochs (2) >= trainer.max_epochs (2): the warm-up covers the whole run"
    )


def test_a_fractional_warmup_longer_than_the_run_is_warned_about(tmp_path, caplog):
    overrides = ["scheduler.warmup_epochs=1.5", "trainer.max_epochs=1"]
    (warning,) = warmup_warnings("pretrain", overrides, tmp_path, caplog)
    assert warning.startswith("scheduler.warmup_epochs (1.5) >= trainer.max_epochs (1)")


@pytest.mark.parametrize(
    "config_name,overrides",
    [
        ("pretrain", ["scheduler.warmup_epochs=2", "trainer.max_epochs=3"]),
        ("pretrain", ["scheduler.warmup_epochs=0", "trainer.max_epochs=1"]),  # no warm-up
        ("linear", ["trainer.max_epochs=1"]),  # configs/linear.yaml: warmup_epochs 0
    ],
)
def test_a_run_longer_than_its_warmup_is_not_warned_about(config_name, overrides, tmp_path, caplog):
    assert warmup_warnings(config_name, overrides, tmp_path, caplog) == []


def test_a_pretraining_run_warns_once_its_run_directory_is_fresh(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hyperssl"):
        run_pretrain(["scheduler.warmup_epochs=2", "trainer.max_epochs=1"], tmp_path)
    expected = "scheduler.warmup_epochs (2) >= trainer.max_epochs (1)"
    assert any(record.getMessage().startswith(expected) for record in caplog.records)
