"""Evaluation speed: weighted k-NN, the linear probe on cached features, feature extraction.

k-NN: :func:`hyperssl.eval.knn.weighted_knn` (what a pretraining run ends with) on random
features, queries/s. Linear probe: ``LinearProbe`` on an identity encoder trained by the real
``configs/linear.yaml`` trainer over ``feature_loader`` (main_linear's precomputed-features
path), samples/s of each epoch after the first, next to a plain loop (one linear layer, SGD,
batches sliced from a shuffled tensor). Extraction: ``extract_features`` over pre-made batches.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn
from torch.utils.data import DataLoader

from benchmarking.framework import PremadeBatches, Settings, quiet_trainer
from benchmarking.measure import StepClock, synchronize
from hyperssl.cli.compose import compose_config
from hyperssl.eval.features import extract_features
from hyperssl.eval.knn import weighted_knn
from hyperssl.eval.linear import LinearProbe, feature_loader


def random_features(
    count: int, dim: int, classes: int, seed: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(count, dim, generator=generator)
    labels = torch.randint(0, classes, (count,), generator=generator)
    return features.to(device), labels.to(device)


def knn_speed(
    train: int, test: int, dim: int, classes: int, device: torch.device, k: int = 20
) -> dict[str, Any]:
    """Queries/s of a weighted k-NN (cosine, T=0.07) of ``test`` queries against ``train``."""
    train_x, train_y = random_features(train, dim, classes, 0, device)
    test_x, test_y = random_features(test, dim, classes, 1, device)
    k = min(k, train)
    weighted_knn(train_x, train_y, test_x[:64], test_y[:64], classes, k)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    weighted_knn(train_x, train_y, test_x, test_y, classes, k)
    synchronize(device)
    seconds = time.perf_counter() - start
    return {
        "train": train,
        "test": test,
        "dim": dim,
        "k": k,
        "seconds": seconds,
        "queries_per_second": test / seconds,
    }


class EpochTimer(pl.Callback):
    """Wall time of every training epoch."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(self.device)
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(self.device)
        self.seconds.append(time.perf_counter() - self._start)


def linear_config(settings: Settings, batch_size: int, epochs: int) -> DictConfig:
    """``configs/linear.yaml`` with a cheap trainer (no checkpoints, no progress bar)."""
    trainer = "gpu" if settings.device.type == "cuda" else "cpu"
    overrides = [
        f"trainer={trainer}",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        f"optimizer.batch_size={batch_size}",
        "checkpoint.enabled=false",
        f"seed={settings.seed}",
    ]
    return compose_config("linear", overrides)


def framework_probe_epochs(
    cfg: DictConfig, features: Tensor, labels: Tensor, classes: int, device: torch.device
) -> list[float]:
    """Epoch walls of ``LinearProbe`` fitted by the linear entry point's trainer."""
    probe = LinearProbe(nn.Identity(), features.shape[1], classes, cfg.optimizer, cfg.scheduler)
    loader = feature_loader(features, labels, cfg.optimizer.batch_size, shuffle=True)
    timer = EpochTimer(device)
    with tempfile.TemporaryDirectory(prefix="hyperssl-benchmark-") as run_dir:
        trainer = quiet_trainer(cfg, Path(run_dir), [timer])
        trainer.fit(probe, train_dataloaders=loader)
    return timer.seconds


def bare_probe_epochs(
    cfg: DictConfig, features: Tensor, labels: Tensor, classes: int, device: torch.device
) -> list[float]:
    """Epoch walls of a plain loop: linear layer, SGD, cross-entropy on shuffled slices."""
    head = nn.Linear(features.shape[1], classes).to(device)
    opt = cfg.optimizer
    optimizer = torch.optim.SGD(
        head.parameters(), lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay
    )
    features, labels = features.to(device), labels.to(device)
    mixed = cfg.trainer.precision == "bf16-mixed"
    seconds = []
    for _ in range(cfg.trainer.max_epochs):
        synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(len(features), device=device)
        for index in order.split(opt.batch_size):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed):
                loss = F.cross_entropy(head(features[index]), labels[index])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def linear_probe_speed(
    settings: Settings, count: int, dim: int, classes: int, batch_size: int, epochs: int
) -> dict[str, Any]:
    """Samples/s per epoch (median of the epochs after the first) of the framework's probe and
    of the plain loop, on ``count`` cached features of ``dim``."""
    cfg = linear_config(settings, batch_size, epochs)
    features, labels = random_features(count, dim, classes, 2, torch.device("cpu"))
    result: dict[str, Any] = {"samples": count, "dim": dim, "batch_size": batch_size}
    for side, run in (("framework", framework_probe_epochs), ("bare", bare_probe_epochs)):
        walls = run(cfg, features, labels, classes, settings.device)
        seconds = statistics.median(walls[1:] or walls)
        result[side] = {"epoch_seconds": walls, "samples_per_second": count / seconds}
    result["ratio"] = (
        result["bare"]["samples_per_second"] / result["framework"]["samples_per_second"]
    )
    return result


def extraction_speed(
    backbone: nn.Module, count: int, batch_size: int, image_size: int, device: torch.device
) -> dict[str, Any]:
    """Images/s of ``extract_features`` (eval mode, no gradient) over pre-made batches."""
    generator = torch.Generator().manual_seed(3)
    batches = [
        (
            torch.randn(batch_size, 3, image_size, image_size, generator=generator),
            torch.zeros(batch_size, dtype=torch.long),
        )
    ]
    backbone = backbone.to(device)
    length = max(count // batch_size, 1)
    clock = StepClock(device)
    # Without extract_features's progress bar, which would interleave the tables.
    with mock.patch("hyperssl.eval.features.tqdm", lambda iterable, **_: iterable):
        extract_features(backbone, DataLoader(PremadeBatches(batches, 2), batch_size=None), device)
        clock.start_step()
        loader = DataLoader(PremadeBatches(batches, length), batch_size=None)
        extract_features(backbone, loader, device)
        clock.stop()
    images = length * batch_size
    return {
        "images": images,
        "batch_size": batch_size,
        "seconds": clock.periods()[0],
        "images_per_second": images / clock.periods()[0],
    }
