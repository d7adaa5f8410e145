"""main_linear.py: the probe on a pretrained checkpoint, its fast path, the GCL command line."""

import json

import pytest
from hydra_runs import linear_overrides, metric_values, run_entry, run_linear

from hyperssl import ConfigError


@pytest.fixture
def tiny(pretrained_run, cifar10_root, tmp_path):
    return linear_overrides(pretrained_run, cifar10_root, tmp_path / "cache")


def test_precomputed_features_train_the_same_probe_as_the_frozen_backbone(tiny, tmp_path):
    fast = run_linear([*tiny, "linear.augment=false"], tmp_path / "fast")
    slow = run_linear(
        [*tiny, "linear.augment=false", "linear.precompute_features=false"], tmp_path / "slow"
    )
    assert (fast["mode"], slow["mode"]) == ("precomputed", "frozen")
    # The same features in the same batch order: the same probe, to float32 rounding.
    assert fast["linear_top1"] == slow["linear_top1"]
    assert fast["linear_val_loss"] == pytest.approx(slow["linear_val_loss"], rel=1e-5)
    summary = json.loads((tmp_path / "fast" / "summary.json").read_text())
    assert 0.0 <= summary["linear_top1"] <= summary["linear_top5"] <= 100.0
    assert summary["method"] == "simclr" and summary["backbone"] == "convnet4"
    for name in ("config.yaml", "metrics.csv", "checkpoints"):
        assert (tmp_path / "fast" / name).exists(), name


def test_second_probe_reads_features_from_the_cache(tiny, tmp_path, monkeypatch):
    run_linear([*tiny, "linear.augment=false"], tmp_path / "first")

    def no_extraction(*args, **kwargs):
        raise AssertionError("features were extracted again")

    monkeypatch.setattr("hyperssl.eval.data.extract_features", no_extraction)
    summary = run_linear(
        [*tiny, "linear.augment=false", "trainer.max_epochs=1"], tmp_path / "again"
    )
    assert summary["mode"] == "precomputed"


def test_finetuning_with_augmentation_runs(tiny, tmp_path):
    summary = run_linear(
        [*tiny, "finetune=true", "linear.augment=true", "trainer.max_epochs=1"], tmp_path
    )
    assert summary["mode"] == "finetune" and summary["global_step"] == 4  # 64 images / 16


def test_a_missing_checkpoint_is_a_config_error(tiny, tmp_path):
    with pytest.raises(ConfigError, match="pretrained_feature_extractor: .*nowhere does not"):
        run_linear([*tiny, f"pretrained_feature_extractor={tmp_path / 'nowhere'}"], tmp_path)


def test_gcl_linear_command_runs_verbatim(pretrained_run, cifar10_root, tmp_path):
    """GCL README: python -u main_linear.py --config-path scripts/linear/cifar/
    --config-name simclr.yaml pretrained_feature_extractor=path/to/ckpt"""
    checkpoint = pretrained_run / "checkpoints" / "last.ckpt"
    run_dir = tmp_path / "run"
    result = run_entry(
        "main_linear.py",
        [
            "--config-path",
            "scripts/linear/cifar/",
            "--config-name",
            "simclr.yaml",
            f"pretrained_feature_extractor={checkpoint}",
            *linear_overrides(pretrained_run, cifar10_root, tmp_path / "cache")[1:],
            "trainer.max_epochs=1",
            f"hydra.run.dir={run_dir}",
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "linear top-1" in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["mode"] == "frozen"  # the recipe augments: crops and flips every epoch
    assert 0.0 <= summary["linear_top1"] <= 100.0
    config = (run_dir / "config.yaml").read_text()
    assert "lr_decay_epochs:\n  - 60\n  - 80" in config and "augment: true" in config


def test_probe_results_are_the_last_row_of_metrics_csv(tiny, tmp_path):
    summary = run_linear([*tiny, "linear.augment=false", "trainer.max_epochs=1"], tmp_path)
    for name in ("linear_top1", "linear_top5", "linear_val_loss"):
        assert metric_values(tmp_path, name) == [pytest.approx(summary[name])]
