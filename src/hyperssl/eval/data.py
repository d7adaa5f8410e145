"""Labelled data and backbone features for the evaluation entry points (linear probe, k-NN).

The splits are the pretraining data module's: the labelled train split (for STL-10 without the
unlabelled images) and the validation split, decoded once; transforms are applied on the fly.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler, SequentialSampler

from hyperssl.data.augment import eval_transform
from hyperssl.data.datamodule import PretrainDataModule, TransformedDataset
from hyperssl.data.sampler import EpochSeededShuffle
from hyperssl.data.schema import AugmentationConfig
from hyperssl.data.worker_init import init_data_worker
from hyperssl.errors import ConfigError
from hyperssl.eval.feature_cache import FeatureCache, file_fingerprint
from hyperssl.eval.features import extract_features

if TYPE_CHECKING:
    from hyperssl.cli.checkpoints import PretrainedEncoder

log = logging.getLogger(__name__)

# Loader settings that do not change the features: left out of the cache key.
_NOT_IN_KEY = ("num_workers", "pin_memory", "download", "augment_on")


@dataclass
class EvalData:
    """Raw ``(image, label)`` splits; ``val`` is None when the data has no labelled validation."""

    cfg: DictConfig
    train: Dataset
    val: Dataset | None
    split_seed: int

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    def eval_transform(self) -> Any:
        cfg = self.cfg
        return eval_transform(cfg.image_size, cfg.mean, cfg.std, cfg.eval_resize)

    def require_val(self) -> Dataset:
        if self.val is None:
            raise ConfigError(
                "data.val_path",
                f"evaluation needs labelled validation data, and data set "
                f"{self.cfg.dataset!r} has none here",
                "a val_path of labelled images (imagefolder), or a data set with a test split",
            )
        return self.val


def _count_image_folder_classes(data: DictConfig) -> None:
    """ImageFolder's class count is the number of class folders: take it from disk."""
    from torchvision.datasets.folder import find_classes

    try:
        classes, _ = find_classes(str(Path(data.train_path).expanduser()))
    except (FileNotFoundError, OSError):
        return  # the loader reports the problem with its own message
    if len(classes) != data.num_classes:
        log.info(
            "data.num_classes set to %d, the class folders in %s", len(classes), data.train_path
        )
        data.num_classes = len(classes)


def load_eval_data(data_cfg: DictConfig, split_seed: int) -> EvalData:
    """The labelled splits of ``data_cfg``; ``split_seed`` fixes the digits train/val split."""
    data = copy.deepcopy(data_cfg)
    data.stl10_unlabeled = False  # evaluation never reads the 100k unlabelled STL-10 images
    if data.dataset == "imagefolder" and data.train_path:
        _count_image_folder_classes(data)
    module = PretrainDataModule(data, [AugmentationConfig()], batch_size=1, seed=split_seed)
    module.setup("fit")
    val = module.val_set if module.has_validation else None
    return EvalData(cfg=data, train=module.train_set, val=val, split_seed=split_seed)


def sample_order(dataset: Dataset, shuffle: bool, seed: int) -> Sampler:
    """The order of a probe's samples: a permutation per epoch drawn from (``seed``, epoch), so
    that a probe resumed mid-epoch sees the batches of an uninterrupted one (the same for images
    and for their precomputed features, so both paths train the probe on the same batches), or
    the data set's own order."""
    if shuffle:
        return EpochSeededShuffle(dataset, seed)
    return SequentialSampler(dataset)


def image_loader(
    dataset: Dataset,
    transform: Any,
    batch_size: int,
    num_workers: int,
    shuffle: bool = False,
    seed: int = 0,
) -> DataLoader:
    """``(transform(image), label)`` batches in :func:`sample_order`."""
    images = TransformedDataset(dataset, transform)
    sampler = sample_order(images, shuffle, seed)
    # The workers' seeds from (seed, epoch) too, as pretraining's (EpochSeededShuffle).
    worker_seeds = getattr(sampler, "worker_seeds", None) if num_workers > 0 else None
    return DataLoader(
        images,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        worker_init_fn=init_data_worker,
        generator=worker_seeds,
    )


def resolve_device(name: str) -> torch.device:
    """``auto``: the GPU when there is one, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", "cuda was asked for but no GPU is available", "auto, cpu")
    return torch.device(name)


def _data_key(data: DictConfig) -> dict[str, Any]:
    parts = OmegaConf.to_container(data, resolve=True)
    for name in _NOT_IN_KEY:
        parts.pop(name, None)
    for name in ("train_path", "val_path"):
        if parts.get(name):
            parts[name] = str(Path(parts[name]).expanduser().resolve())
    return parts


def backbone_features(
    encoder: PretrainedEncoder,
    data: EvalData,
    split: str,
    cache: FeatureCache,
    device: torch.device,
    batch_size: int,
) -> tuple[Tensor, Tensor]:
    """Backbone features [N, F] and labels [N] of the ``train`` or ``val`` split (eval transform),
    from ``cache`` when an entry for this checkpoint, data and transform exists."""
    dataset = data.train if split == "train" else data.require_val()
    transform = data.eval_transform()
    parts = {
        "checkpoint": file_fingerprint(encoder.source),
        "data": _data_key(data.cfg),
        "split": split,
        "split_seed": data.split_seed,
        "transform": repr(transform),
        "output": "backbone",
    }

    def compute() -> tuple[Tensor, Tensor]:
        loader = image_loader(dataset, transform, batch_size, data.cfg.num_workers)
        backbone = encoder.backbone.to(device)
        features_and_labels = extract_features(backbone, loader, device, f"{split} features")
        encoder.backbone.cpu()
        return features_and_labels

    features, labels, _ = cache.get_or_compute(parts, compute)
    return features, labels


@torch.no_grad()
def apply_in_chunks(module: nn.Module, features: Tensor, device: torch.device) -> Tensor:
    """``module`` (eval mode) on rows of ``features`` in chunks; float32 result on the CPU."""
    was_training = module.training
    module.eval().to(device)
    outputs = [module(chunk.to(device)).float().cpu() for chunk in features.split(4096)]
    module.train(was_training)
    return torch.cat(outputs) if outputs else features.new_zeros(0)


def check_pretraining_data(encoder: PretrainedEncoder, dataset: str) -> None:
    """Refuse an encoder that ``latest`` chose from a run pretrained on another data set than
    ``dataset`` (the evaluation's): the newest run under outputs/ is as often another
    experiment's. An explicit checkpoint of another data set is a transfer evaluation, which is
    legitimate: only a warning."""
    pretrained_on = encoder.pretrain_dataset
    if pretrained_on is None or pretrained_on == dataset:
        return
    if encoder.latest_run is not None:
        raise ConfigError(
            "pretrained_feature_extractor",
            f"latest is {encoder.latest_run}, pretrained on {pretrained_on}, but the evaluation "
            f"is on {dataset} (data.dataset)",
            f"a run pretrained on {dataset}, or an explicit path (a .ckpt, run directory or "
            f"backbone.safetensors) to evaluate {pretrained_on} features on {dataset}",
        )
    log.warning(
        "%s was pretrained on %s and is evaluated on %s (data.dataset): a transfer evaluation",
        encoder.source,
        pretrained_on,
        dataset,
    )


def split_seed_of(encoder: PretrainedEncoder, cfg: DictConfig) -> int:
    """The pretraining run's seed when it used the same data set (so the digits validation images
    are those it held out), else the evaluation config's seed. First checks that the encoder may
    be evaluated on ``cfg.data.dataset`` (:func:`check_pretraining_data`)."""
    check_pretraining_data(encoder, cfg.data.dataset)
    pretrain = encoder.pretrain_cfg
    if pretrain is not None and pretrain.data.dataset == cfg.data.dataset:
        return int(pretrain.seed)
    return int(cfg.seed)
