"""The entry points as a user runs them: subprocesses, exit codes, what is printed."""

import json

from datasets_on_disk import write_cifar10
from hydra_runs import TINY, run_entry


def test_default_entry_point_pretrains_and_reports_knn(tmp_path):
    result = run_entry("main_pretrain.py", [*TINY, f"hydra.run.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "k-NN top-1" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["method"] == "simclr" and summary["dataset"] == "digits"
    assert 0.0 <= summary["knn_top1"] <= 100.0


def test_gcl_command_line_runs_verbatim_with_geometric_loss(tmp_path):
    root = write_cifar10(tmp_path / "datasets")
    run_dir = tmp_path / "run"
    result = run_entry(
        "main_pretrain.py",
        [
            "--config-path",
            "scripts/pretrain/cifar",
            "--config-name",
            "simclr.yaml",
            "method_kwargs.geometric_loss=True",
            f"data.train_path={root}",
            # The preset's ResNet-18 with solo-learn's stem, on TINY's few small batches.
            *(override for override in TINY if not override.startswith("backbone")),
            f"hydra.run.dir={run_dir}",
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = (run_dir / "config.yaml").read_text()
    assert "name: geodesic" in config
    assert "small_stem_padding: 2" in config
    assert "output_dim: 16" in config  # the override wins over the preset's 256
