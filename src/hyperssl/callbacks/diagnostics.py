"""The diagnostics callbacks a pretraining run gets, from its ``diagnostics`` config."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from pytorch_lightning.callbacks import Callback

from hyperssl.callbacks.online_knn import OnlineKNN
from hyperssl.callbacks.plots import EmbeddingPlots
from hyperssl.callbacks.sphere_metrics import HypersphereMetrics


def diagnostic_callbacks(cfg: DictConfig, run_dir: Path) -> list[Callback]:
    """Online k-NN, sphere metrics and end-of-training plots, each when enabled; none for a
    config without a ``diagnostics`` node (the evaluation entry points)."""
    diagnostics = cfg.get("diagnostics")
    if diagnostics is None:
        return []
    callbacks: list[Callback] = []
    knn = diagnostics.online_knn
    if knn.enabled:
        callbacks.append(OnlineKNN(knn.every_n_epochs, knn.k, knn.temperature, knn.max_bank))
    sphere = diagnostics.sphere_metrics
    if sphere.enabled:
        callbacks.append(
            HypersphereMetrics(sphere.num_samples, sphere.alpha, sphere.t, seed=cfg.seed)
        )
    plots = diagnostics.plots
    if plots.enabled:
        callbacks.append(
            EmbeddingPlots(
                run_dir,
                plots.embedding_map,
                plots.max_points,
                num_pairs=sphere.num_samples,
                seed=cfg.seed,
            )
        )
    return callbacks
