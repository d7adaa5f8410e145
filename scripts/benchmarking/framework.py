"""The framework side: the real composed config, method module and ``pl.Trainer.fit``.

The config is ``configs/pretrain.yaml`` composed with Hydra's compose API, as ``main_pretrain.py``
composes it, with the method group's own projector width (the quickstart's ``pretrain.yaml``
narrows every projector to 512), the symmetric CIFAR augmentation (2 views of ``image_size``) and
a run as cheap as a user can make it: CSV logger on (a user's run always has a logger; every
``log_every_n_steps``), progress bar, checkpoints and diagnostics off. The method is built by
``create_method`` and the trainer by ``build_trainer``, exactly as ``hyperssl.cli.pretrain`` does.

The data are pre-made view tensors (already on the device), one whole batch per item, so neither
augmentation nor collation is measured here.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelSummary
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from benchmarking.measure import PeakMemory, StepClock, StepResult, step_result
from hyperssl.cli.compose import compose_config
from hyperssl.cli.trainer import build_trainer
from hyperssl.methods import create_method
from hyperssl.methods.base import Batch, pretrain_crop_size
from hyperssl.validation import validate_pretrain


@dataclass
class Settings:
    """What every training-step measurement shares."""

    backbone: str
    image_size: int
    batch_size: int
    device: torch.device
    precision: str
    warmup: int
    steps: int
    statistic: str
    seed: int = 0
    overrides: list[str] = field(default_factory=list)  # extra Hydra overrides, applied last


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Inside the block, Lightning's banners and small-run warnings stay off the tables."""
    names = (
        "pytorch_lightning",
        "lightning_fabric",
        "lightning.pytorch",
        "lightning.fabric",
        "timm",
    )
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for message in (
            ".*does not have many workers.*",
            ".*smaller than the logging interval.*",
            ".*Experiment logs directory .* exists.*",
            ".*defined a `validation_step` but have no `val_dataloader`.*",
            ".*LeafSpec.*is deprecated.*",
            r"Found \d+ module\(s\) in eval mode",  # the linear probe's frozen encoder
            ".*The `srun` command is available.*",
        ):
            warnings.filterwarnings("ignore", message=message)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def method_config(method: str, heads: list[str], settings: Settings) -> DictConfig:
    """The validated config of a ``warmup + steps`` step run of ``method`` with ``heads``."""
    # The method's own width: composed without pretrain.yaml, which narrows every projector.
    hidden = compose_config("pretrain_schema", [f"+method={method}"]).method.projector.hidden_dim
    on_gpu = settings.device.type == "cuda"
    cfg = compose_config(
        "pretrain",
        [
            f"method={method}",
            f"method.projector.hidden_dim={hidden}",
            f"heads=[{','.join(heads)}]",
            f"backbone={settings.backbone}",
            "augmentations=symmetric",
            f"data.image_size={settings.image_size}",
            "data.num_workers=0",
            f"optimizer.batch_size={settings.batch_size}",
            f"trainer={'gpu' if on_gpu else 'cpu'}",
            f"trainer.precision={settings.precision}",
            "trainer.max_epochs=1",
            f"trainer.limit_train_batches={settings.warmup + settings.steps}",
            "trainer.enable_progress_bar=false",
            "checkpoint.enabled=false",
            "diagnostics.online_knn.enabled=false",
            "diagnostics.sphere_metrics.enabled=false",
            "diagnostics.plots.enabled=false",
            "knn.enabled=false",
            f"seed={settings.seed}",
            *settings.overrides,
        ],
    )
    validate_pretrain(cfg)
    return cfg


def quiet_trainer(cfg: DictConfig, run_dir: Path, callbacks: list[pl.Callback]) -> pl.Trainer:
    """``build_trainer``'s trainer (no validation) with ``callbacks`` added and without the model
    summary, which is printed before training starts and would break up the tables."""
    trainer = build_trainer(cfg, run_dir, has_validation=False)
    kept = [callback for callback in trainer.callbacks if not isinstance(callback, ModelSummary)]
    trainer.callbacks = kept + callbacks
    return trainer


class PremadeBatches(Dataset):
    """``length`` items cycling over a few whole pre-made batches."""

    def __init__(self, batches: list[Batch], length: int) -> None:
        self.batches = batches
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Batch:
        return self.batches[index % len(self.batches)]


def synthetic_loader(cfg: DictConfig, length: int, device: torch.device, seed: int) -> DataLoader:
    """Batches ``(views, labels, index)`` shaped as the config's data module would give them:
    V views [B, 3, S, S] of random normal values, labels in 0..C-1; two distinct batches."""
    generator = torch.Generator().manual_seed(seed)
    batch, size = cfg.optimizer.batch_size, pretrain_crop_size(cfg)
    num_views = sum(pipeline.num_crops for pipeline in cfg.augmentations)

    def tensor(values: Tensor) -> Tensor:
        return values.to(device)

    batches = [
        (
            [
                tensor(torch.randn(batch, 3, size, size, generator=generator))
                for _ in range(num_views)
            ],
            tensor(torch.randint(0, cfg.data.num_classes, (batch,), generator=generator)),
            tensor(torch.arange(batch)),
        )
        for _ in range(min(length, 2))
    ]
    return DataLoader(PremadeBatches(batches, length), batch_size=None)


class StepMarks:
    """Marks the start of every step after ``warmup`` and the end of the epoch (the last step,
    the module's own batch-end hook and logging included). A mixin: the callback base class is
    Lightning's, under either of its package names (solo-learn uses ``lightning``)."""

    def __init__(self, clock: StepClock, warmup: int) -> None:
        self.clock = clock
        self.warmup = warmup

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Batch, batch_idx: int
    ) -> None:
        if batch_idx >= self.warmup:
            self.clock.start_step()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.clock.stop()


class StepTimer(StepMarks, pl.Callback):
    """:class:`StepMarks` as a ``pytorch_lightning`` callback."""


def run_framework(cfg: DictConfig, settings: Settings) -> StepResult:
    """Images/s and peak memory of ``pl.Trainer.fit`` on the method of ``cfg``."""
    torch.manual_seed(settings.seed)
    model = create_method(cfg)
    loader = synthetic_loader(cfg, settings.warmup + settings.steps, settings.device, settings.seed)
    clock = StepClock(settings.device)
    with tempfile.TemporaryDirectory(prefix="hyperssl-benchmark-") as run_dir:
        trainer = quiet_trainer(cfg, Path(run_dir), [StepTimer(clock, settings.warmup)])
        with PeakMemory(settings.device) as memory:
            trainer.fit(model, train_dataloaders=loader)
    return step_result(clock.periods(), settings.batch_size, settings.statistic, memory.mib)
