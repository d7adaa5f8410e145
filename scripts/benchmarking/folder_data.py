"""The data path of a folder data set alone: JPEGs written on the spot, read by the data module.

:func:`write_jpeg_folder` writes photo-sized JPEGs in torchvision's ImageFolder layout.
:func:`folder_speed` builds ``PretrainDataModule`` from the composed pretraining config with
``data=imagefolder`` and a ``data.augment_on`` value, and does what Lightning does with each
training batch: iterate ``train_dataloader()``, move the batch to the device, call the module's
``on_after_batch_transfer`` (where the batched paths make their views) and wait for the device.
The clock runs over one whole epoch, its workers' start-up included (a fresh epoch starts them
again, as a run does), after one batch of warm-up (decoders and kernels loaded).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from PIL import Image
from pytorch_lightning.utilities import move_data_to_device

from benchmarking.measure import PeakMemory, synchronize
from hyperssl.cli.compose import compose_config
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.errors import ConfigError
from hyperssl.validation import validate_pretrain

CLASSES = 2
# Photo shapes (width, height), landscape, portrait and square, cycled over the files: a batch
# of unequal sizes is padded in chunks and cropped within each size, as a real folder's is.
PHOTO_SIZES = ((500, 375), (375, 500), (500, 333), (400, 400))


def describe_sizes(sizes: tuple[tuple[int, int], ...] = PHOTO_SIZES) -> str:
    """``500x375, 375x500, ...``: the shapes, for a table."""
    return ", ".join(f"{width}x{height}" for width, height in sizes)


def write_jpeg_folder(
    root: Path,
    count: int,
    distinct: int,
    sizes: tuple[tuple[int, int], ...] = PHOTO_SIZES,
    seed: int = 0,
) -> Path:
    """``count`` JPEGs as ``root/class_<k>/<i>.jpg``, spread over :data:`CLASSES` classes, of the
    ``sizes`` (width, height) in turn; the first ``distinct`` are written, the others are hard
    links to them (decoding costs the same; writing thousands of photos would cost seconds).
    Smooth random colours plus pixel noise, quality 90: about 85 KB at 500x375, near an ImageNet
    photo's (pure noise would be three times that, and decode slower than any photo)."""
    rng = np.random.default_rng(seed)
    for class_index in range(CLASSES):
        (root / f"class_{class_index}").mkdir(parents=True, exist_ok=True)
    paths = [root / f"class_{i % CLASSES}" / f"{i:05d}.jpg" for i in range(count)]
    for i, path in enumerate(paths[:distinct]):
        width, height = sizes[i % len(sizes)]
        coarse = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
        smooth = coarse.resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.asarray(smooth, dtype=np.int16)
        pixels = pixels + rng.integers(-24, 25, (height, width, 3), dtype=np.int16)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path, quality=90)
    for i, path in enumerate(paths[distinct:]):
        path.hardlink_to(paths[i % distinct])
    return root


def folder_config(
    root: Path, image_size: int, batch_size: int, augment_on: str, workers: int
) -> DictConfig:
    """The validated pretraining config reading ``root`` with the symmetric recipe (2 views of
    ``image_size``); ConfigError where ``augment_on`` is refused for folders."""
    cfg = compose_config(
        "pretrain",
        [
            "data=imagefolder",
            f"data.train_path={root}",
            f"data.num_classes={CLASSES}",
            f"data.image_size={image_size}",
            f"data.augment_on={augment_on}",
            f"data.num_workers={workers}",
            "augmentations=symmetric",
            f"optimizer.batch_size={batch_size}",
        ],
    )
    validate_pretrain(cfg)
    return cfg


def training_trainer(device: torch.device) -> pl.Trainer:
    """A trainer in its training stage on ``device``, which the data module's
    ``on_after_batch_transfer`` reads (stage, epoch, batch index, rank) as in a run."""
    trainer = pl.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.training = True
    return trainer


def views_of(batch: Any) -> int:
    """The number of views in a training batch ``(views, labels, index)``; an error when the
    batch holds no views (the data module made none: nothing would have been measured)."""
    views = batch[0]
    if not (isinstance(views, list) and all(v.is_floating_point() and v.ndim == 4 for v in views)):
        raise RuntimeError(f"the data module gave no views but {type(views).__name__}")
    return sum(len(view) for view in views)


def epoch_views(module: PretrainDataModule, device: torch.device, batches: int | None) -> int:
    """Views made from the first ``batches`` training batches (all when None), on ``device``."""
    views = 0
    for index, batch in enumerate(module.train_dataloader()):
        if index == batches:
            break
        on_device = module.on_after_batch_transfer(move_data_to_device(batch, device), 0)
        views += views_of(on_device)
    synchronize(device)
    return views


def folder_speed(
    root: Path,
    image_size: int,
    batch_size: int,
    augment_on: str,
    workers: int,
    device: torch.device,
) -> dict[str, Any]:
    """Views/s and peak memory of the data module's training batches from ``root``, or
    ``{"refused": <the one-line error>}`` where the config refuses ``augment_on``."""
    try:
        cfg = folder_config(root, image_size, batch_size, augment_on, workers)
        module = PretrainDataModule(cfg.data, cfg.augmentations, batch_size, cfg.seed)
    except ConfigError as error:
        return {"augment_on": augment_on, "refused": str(error)}
    module.trainer = training_trainer(device)
    module.setup("fit")
    epoch_views(module, device, batches=1)
    with PeakMemory(device) as memory:
        start = time.perf_counter()
        views = epoch_views(module, device, batches=None)
        seconds = time.perf_counter() - start
    return {
        "augment_on": augment_on,
        "batched": module.augments_batches,
        "workers": workers,
        "images": len(module.pretrain_set),
        "views": views,
        "seconds": seconds,
        "views_per_second": views / seconds,
        "peak_memory_mib": memory.mib,
    }
