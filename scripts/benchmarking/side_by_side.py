"""hyperssl against solo-learn in one run: training step, NT-Xent and augmentation, each quiet
and next to a busy neighbour (:mod:`benchmarking.neighbour`).

- step: images/s of each method's ``Trainer.fit`` step on the same synthetic batches, our
  composed config against solo-learn's CIFAR preset (:mod:`benchmarking.solo_learn`), rounds
  interleaved and the fastest of each side kept;
- NT-Xent: forward + backward of two [B, 128] views at temperature 0.2, our
  :func:`hyperssl.losses.nt_xent` against solo-learn's ``simclr_loss_func``, timed by
  ``torch.utils.benchmark`` (median of its blocks);
- augmentation: views/s of the symmetric CIFAR recipe over 256 random 32x32 images, our batched
  path on the benchmark's device (as the in-memory data sets use it) against solo-learn's
  per-image torchvision pipeline on PIL images in this process (what one loader worker does).

"speed-up" is hyperssl's speed over solo-learn's: above 1 we are faster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.benchmark import Timer

from benchmarking import solo_learn
from benchmarking.augmentation import random_images
from benchmarking.framework import Settings, method_config, run_framework
from benchmarking.measure import synchronize
from benchmarking.neighbour import busy_neighbour, neighbour_label
from benchmarking.steps import fastest_of_rounds
from hyperssl.data.batched_augment import BatchedMultiViewTransform
from hyperssl.losses import nt_xent

EMBEDDING_DIM = 128
TEMPERATURE = 0.2
AUGMENTED_IMAGES = 256


def _seconds(fn: Callable[[], object]) -> float:
    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=1.0).median


def _row(what: str, load: str, unit: str, ours: float, theirs: float) -> dict[str, Any]:
    return {"what": what, "load": load, "unit": unit, "hyperssl": ours, "solo_learn": theirs,
            "speedup": ours / theirs}  # fmt: skip


def step_rows(settings: Settings, methods: list[str], rounds: int, load: str) -> list[dict]:
    rows = []
    for method in methods:
        cfg = method_config(method, [], settings)
        ours, theirs = fastest_of_rounds(
            rounds, cfg, settings, run_framework, solo_learn.run_solo_step
        )
        rows.append(
            _row(f"{method} step", load, "img/s", ours.images_per_second, theirs.images_per_second)
        )
    return rows


def loss_row(batch: int, load: str) -> dict:
    generator = torch.Generator().manual_seed(batch)
    z1, z2 = (
        torch.randn(batch, EMBEDDING_DIM, generator=generator).requires_grad_() for _ in range(2)
    )
    ours = _seconds(lambda: nt_xent(z1, z2, TEMPERATURE).backward())
    theirs = _seconds(lambda: solo_learn.nt_xent(z1, z2, TEMPERATURE).backward())
    return _row(f"NT-Xent B={batch}", load, "calls/s", 1 / ours, 1 / theirs)


def augmentation_row(settings: Settings, load: str) -> dict:
    cfg = method_config("simclr", [], settings)
    images = random_images(AUGMENTED_IMAGES, settings.image_size)
    transform = BatchedMultiViewTransform(cfg.augmentations, cfg.data.mean, cfg.data.std)
    on_device = images.to(settings.device)

    def ours() -> None:
        transform(on_device)
        synchronize(settings.device)

    views = AUGMENTED_IMAGES * transform.num_views
    theirs = solo_learn.augmentation(images)
    return _row(
        f"augmentation ({settings.device.type})", load, "views/s",
        views / _seconds(ours), views / _seconds(theirs),
    )  # fmt: skip


def run_side_by_side(
    settings: Settings,
    methods: list[str],
    rounds: int,
    loss_batch_sizes: list[int],
    neighbour_threads: int,
) -> dict[str, Any]:
    """Every row quiet, then every row next to a neighbour of ``neighbour_threads`` threads (none
    when 0); ``{"skipped": reason}`` when solo-learn cannot be imported."""
    reason = solo_learn.missing()
    if reason:
        return {"skipped": reason}
    rows = []
    for threads in dict.fromkeys([0, neighbour_threads]):
        load = neighbour_label(threads)
        with busy_neighbour(threads):
            rows += step_rows(settings, methods, rounds, load)
            rows += [loss_row(batch, load) for batch in loss_batch_sizes]
            rows.append(augmentation_row(settings, load))
    return {"rows": rows}
