"""Data loading throughput: views/second of the real augmentation pipelines.

Per image: ``MultiViewTransform`` built from ``configs/augmentations/symmetric.yaml`` (through the
composed config) on uint8 [3, S, S] tensors, as the data sets yield them, on one thread: what one
DataLoader worker does (collation and inter-process transfer not included). Batched:
``hyperssl.data.batched_augment.BatchedMultiViewTransform`` on uint8 [B, 3, S, S] batches on the
benchmark's device, when that module exists (on CPU also on one thread, for a per-worker
comparison).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor

from benchmarking.measure import synchronize
from hyperssl.data.augment import MultiViewTransform
from hyperssl.intra_op_threads import intra_op_threads


def random_images(count: int, size: int, seed: int = 4) -> Tensor:
    """uint8 [count, 3, size, size]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)


def seconds_of(run: Callable[[], Any], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - start


def per_image_speed(cfg: DictConfig, count: int) -> dict[str, Any]:
    """Views/s of the per-image pipeline on one thread."""
    transform = MultiViewTransform(cfg.augmentations, cfg.data.mean, cfg.data.std)
    images = random_images(count, cfg.data.image_size)
    device = torch.device("cpu")
    with intra_op_threads(1):
        seconds_of(lambda: [transform(image) for image in images[:8]], device)  # warm-up
        seconds = seconds_of(lambda: [transform(image) for image in images], device)
    views = count * transform.num_views
    return {
        "images": count,
        "views": views,
        "threads": 1,
        "seconds": seconds,
        "views_per_second": views / seconds,
    }


def batched_speed(
    cfg: DictConfig, batch_size: int, batches: int, device: torch.device
) -> dict[str, Any]:
    """Views/s of the batched pipeline on ``device``, or ``{"available": False}``."""
    try:
        from hyperssl.data.batched_augment import BatchedMultiViewTransform
    except ImportError as error:
        return {"available": False, "reason": str(error)}
    transform = BatchedMultiViewTransform(cfg.augmentations, cfg.data.mean, cfg.data.std)
    images = random_images(batch_size, cfg.data.image_size).to(device)
    on_cpu = device.type == "cpu"
    with intra_op_threads(1) if on_cpu else nullcontext():
        num_views = len(transform(images))  # warm-up
        seconds = seconds_of(lambda: [transform(images) for _ in range(batches)], device)
    views = batches * batch_size * num_views
    return {
        "available": True,
        "images": batches * batch_size,
        "views": views,
        "threads": 1 if on_cpu else torch.get_num_threads(),
        "seconds": seconds,
        "views_per_second": views / seconds,
    }
