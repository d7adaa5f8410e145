"""solo-learn's own training step, NT-Xent and augmentation, timed on the same inputs as ours.

solo-learn (https://github.com/vturrisi/solo-learn) is not a dependency: these measurements run
when it can be imported next to hyperssl. Its pinned requirements (lightning 2.1.2) need not be
installed; in hyperssl's environment:

    git clone https://github.com/vturrisi/solo-learn ../solo-learn
    pip install --no-deps lightning einops
    PYTHONPATH=../solo-learn python scripts/benchmark.py --sections solo --rounds 2

Everything is built the way its ``main_pretrain.py`` builds it:

- the method from its CIFAR preset (``scripts/pretrain/cifar/<method>.yaml``, composed by Hydra
  and completed by ``solo.args.pretrain.parse_cfg``), made contiguous and converted to
  channels-last as its entry point does unless ``performance.disable_channel_last``;
- a ``lightning.Trainer`` given the preset's trainer keys (precision, devices, accelerator,
  strategy, sync_batchnorm) and Lightning's default logger, as its entry point gives it when
  wandb is off;
- its augmentation pipelines (``build_transform_pipeline``, ``NCropAugmentation``) from the
  preset's ``augmentations/symmetric.yaml``, on PIL images as its data sets yield them.

Its training batches are ``(index, views, labels)``: ours reordered, the same tensors.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from benchmarking.framework import Settings, StepMarks, quiet_lightning, synthetic_loader
from benchmarking.measure import PeakMemory, StepClock, StepResult, step_result


def missing() -> str | None:
    """Why solo-learn cannot be measured here, or None when it can."""
    for module in ("solo", "lightning", "einops"):
        if importlib.util.find_spec(module) is None:
            return f"'{module}' is not importable (see benchmarking/solo_learn.py)"
    return None


def preset_directory() -> Path:
    """solo-learn's CIFAR pretraining presets, next to its package in a checkout."""
    import solo

    directory = Path(solo.__file__).resolve().parent.parent / "scripts" / "pretrain" / "cifar"
    if not directory.is_dir():
        raise FileNotFoundError(f"solo-learn's presets are not at {directory} (need a checkout)")
    return directory


def preset(method: str, settings: Settings) -> DictConfig:
    """solo-learn's CIFAR preset of ``method`` for this run, as its entry point completes it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from solo.args.pretrain import parse_cfg

    gpu = settings.device.type == "cuda"
    overrides = [
        f"optimizer.batch_size={settings.batch_size}",
        "data.num_workers=0",
        "wandb.enabled=false",
        "checkpoint.enabled=false",
        "auto_resume.enabled=false",
        f"accelerator={'gpu' if gpu else 'cpu'}",
        "devices=[0]",
        "strategy=auto",
        "sync_batchnorm=false",
        f"precision={settings.precision}",
        "max_epochs=1",
        f"+seed={settings.seed}",
    ]
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(preset_directory()), version_base="1.2"):
        cfg = compose(method, overrides)
    OmegaConf.set_struct(cfg, False)
    return parse_cfg(cfg)


class SoloBatches(Dataset):
    """Our synthetic batches ``(views, labels, index)`` as solo-learn's (index, views, labels)."""

    def __init__(self, ours: DataLoader) -> None:
        self.ours = ours.dataset

    def __len__(self) -> int:
        return len(self.ours)

    def __getitem__(self, index: int) -> tuple[Tensor, list[Tensor], Tensor]:
        views, labels, sample_index = self.ours[index]
        return sample_index, views, labels


def run_solo_step(cfg: DictConfig, settings: Settings) -> StepResult:
    """Images/s and peak memory of solo-learn's ``cfg.method`` module under ``lightning``'s
    ``Trainer.fit``, on the batches our framework side gets (``cfg`` is our config)."""
    import lightning
    from solo.methods import METHODS
    from solo.utils.misc import make_contiguous

    class SoloStepTimer(StepMarks, lightning.pytorch.Callback):
        pass

    solo_cfg = preset(cfg.method.name, settings)
    torch.manual_seed(settings.seed)
    model = METHODS[solo_cfg.method](solo_cfg)
    make_contiguous(model)
    if not solo_cfg.performance.disable_channel_last:
        model = model.to(memory_format=torch.channels_last)
    steps = settings.warmup + settings.steps
    ours = synthetic_loader(cfg, steps, settings.device, settings.seed)
    loader = DataLoader(SoloBatches(ours), batch_size=None)
    clock = StepClock(settings.device)
    with tempfile.TemporaryDirectory(prefix="solo-learn-benchmark-") as run_dir, quiet_lightning():
        trainer = lightning.Trainer(
            **_trainer_keys(solo_cfg),
            default_root_dir=run_dir,
            limit_train_batches=steps,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[SoloStepTimer(clock, settings.warmup)],
        )
        with PeakMemory(settings.device) as memory:
            trainer.fit(model, train_dataloaders=loader)
    return step_result(clock.periods(), settings.batch_size, settings.statistic, memory.mib)


def _trainer_keys(solo_cfg: DictConfig) -> dict[str, Any]:
    """The preset's keys that solo-learn's entry point hands to ``lightning.Trainer``."""
    names = ("precision", "max_epochs", "accelerator", "strategy", "sync_batchnorm")
    # The presets list GPU ids ([0]); Lightning's CPU accelerator takes a count.
    devices = solo_cfg.devices if solo_cfg.accelerator == "gpu" else len(solo_cfg.devices)
    return {name: solo_cfg[name] for name in names} | {"devices": devices}


def nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """solo-learn's SimCLR loss of two views' embeddings [B, D] (its method's call)."""
    from solo.losses.simclr import simclr_loss_func

    index = torch.arange(len(z1), device=z1.device).repeat(2)
    return simclr_loss_func(torch.cat([z1, z2]), index, temperature)


def augmentation(images: Tensor) -> Callable[[], list[list[Tensor]]]:
    """solo-learn's symmetric CIFAR pipeline over ``images`` (uint8 [B, 3, H, W], converted to
    PIL images first, as its data sets hold them): a call makes every image's views."""
    from PIL import Image
    from solo.data.pretrain_dataloader import (
        FullTransformPipeline,
        NCropAugmentation,
        build_transform_pipeline,
    )

    recipe = OmegaConf.load(preset_directory() / "augmentations" / "symmetric.yaml")
    pipeline = FullTransformPipeline(
        [
            NCropAugmentation(build_transform_pipeline("cifar10", view), view.num_crops)
            for view in recipe
        ]
    )
    pictures = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in images]
    return lambda: [pipeline(picture) for picture in pictures]
