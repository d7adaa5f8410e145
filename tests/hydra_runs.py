"""Run the entry points in-process through Hydra's compose API (fast) or as subprocesses (real).

``TINY`` overrides keep a run to seconds on 2 CPU cores: a narrow conv net, a few steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from hyperssl.config import register_configs

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"

TINY = [
    "backbone=convnet4",
    "backbone.kwargs.width=8",
    "method.projector.hidden_dim=32",
    "method.projector.output_dim=16",
    "optimizer.batch_size=16",
    "data.num_workers=0",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "knn.k=5",
    # The end-of-training pictures (t-SNE) cost seconds; tests that check them turn them on.
    "diagnostics.plots.enabled=false",
    "diagnostics.sphere_metrics.num_samples=32",
]


def compose_pretrain(
    overrides: list[str], run_dir: Path, config_dir: Path = CONFIGS, config_name: str = "pretrain"
) -> DictConfig:
    """The composed config, with Hydra's runtime output dir set to ``run_dir``."""
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def run_pretrain(overrides: list[str], run_dir: Path) -> dict:
    from hyperssl.cli import pretrain

    return pretrain.run(compose_pretrain([*TINY, *overrides], run_dir))


def run_pretrain_preset(preset: Path, run_dir: Path, overrides: list[str] = ()) -> dict:
    """A preset under scripts/ (``--config-path <dir> --config-name <file>``) with TINY settings."""
    from hyperssl.cli import pretrain

    cfg = compose_pretrain([*TINY, *overrides], run_dir, preset.parent, preset.name)
    return pretrain.run(cfg)


def run_entry(script: str, args: list[str], cwd: Path = REPO, timeout: float = 300):
    """Run ``python <script> args`` as a user would; returns the CompletedProcess."""
    # One intra-op thread: these tiny runs gain nothing from more, and OpenMP threads spinning on
    # a loaded 2-core machine double their time.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
