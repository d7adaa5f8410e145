"""Structured-config schemas of the data layer: which data set to read and how to augment it.

The dataclasses are the single place where a data key, its type and its default live; the YAML files
under ``configs/data`` and ``configs/augmentations`` only choose values. Augmentation names follow
solo-learn's, and a pretraining config holds a *list* of :class:`AugmentationConfig`, one per
pipeline (one pipeline for the symmetric SimCLR recipe, two for BYOL's asymmetric one).

:func:`validate_data_config` and :func:`validate_augmentations` check values that a type cannot
express (ranges, names) and raise :class:`hyperssl.ConfigError` naming the full key.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hyperssl.errors import ConfigError

DATASETS = (
    "digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "stl10", "imagefolder", "folder",
)  # fmt: skip
# Data sets loaded whole into memory as uint8 tensors (TensorImages): the batched augmentation's.
IN_MEMORY_DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "stl10")
AUGMENT_ON = ("auto", "batch", "workers")

CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR10_STD = [0.2470, 0.2435, 0.2616]


@dataclass
class DataConfig:
    """Where the images come from and how they are loaded.

    ``val_path`` None means: the official test split under ``train_path`` for (fashion_)mnist,
    cifar10, cifar100 and stl10, the held-out ``val_fraction`` for digits, and no validation for
    imagefolder and folder. Digits are bundled with scikit-learn: the paths are not used.

    ``augment_on`` chooses where training views are made: ``auto`` = batched on the device (the
    GPU when there is one) for the in-memory data sets (digits, mnist, fashion_mnist, cifar10,
    cifar100, stl10), per image in the loader's workers for folders; ``batch`` = require the
    batched path (an error for a folder data set); ``workers`` = the per-image torchvision path.
    The batched path loads with no workers (``num_workers`` applies to the other loaders).

    ``skip_corrupt`` (imagefolder, folder): leave out the image files that do not decode, with a
    warning giving their count, instead of stopping with an error naming the first one.
    """

    dataset: str = "digits"
    train_path: str | None = None
    val_path: str | None = None
    download: bool = False
    num_workers: int = 2
    num_classes: int = 10
    image_size: int = 32
    mean: list[float] = field(default_factory=lambda: list(CIFAR10_MEAN))
    std: list[float] = field(default_factory=lambda: list(CIFAR10_STD))
    val_fraction: float = 0.2
    stl10_unlabeled: bool = True
    pin_memory: bool = True
    skip_corrupt: bool = False
    augment_on: str = "auto"


@dataclass
class RandomResizedCropConfig:
    """Random resized crop to ``crop_size`` with area scale in [crop_min_scale, crop_max_scale].

    Disabled: resize the short side to ``crop_size`` and center-crop.
    """

    enabled: bool = True
    crop_min_scale: float = 0.08
    crop_max_scale: float = 1.0


@dataclass
class ColorJitterConfig:
    prob: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1


@dataclass
class GaussianBlurConfig:
    prob: float = 0.0
    sigma_min: float = 0.1
    sigma_max: float = 2.0


@dataclass
class ProbabilityConfig:
    prob: float = 0.0


@dataclass
class AugmentationConfig:
    """One augmentation pipeline; it produces ``num_crops`` views of ``crop_size`` pixels.

    ``random_crop_padding`` > 0 (with ``rrc.enabled=false``) takes a random ``crop_size`` crop of
    the image zero-padded by that many pixels on each side: the supervised CIFAR recipe's
    "pad 4, random crop 32", a shift of at most 4 pixels without rescaling.
    """

    rrc: RandomResizedCropConfig = field(default_factory=RandomResizedCropConfig)
    color_jitter: ColorJitterConfig = field(default_factory=ColorJitterConfig)
    grayscale: ProbabilityConfig = field(default_factory=lambda: ProbabilityConfig(prob=0.2))
    gaussian_blur: GaussianBlurConfig = field(default_factory=GaussianBlurConfig)
    solarization: ProbabilityConfig = field(default_factory=ProbabilityConfig)
    equalization: ProbabilityConfig = field(default_factory=ProbabilityConfig)
    horizontal_flip: ProbabilityConfig = field(default_factory=lambda: ProbabilityConfig(prob=0.5))
    crop_size: int = 32
    num_crops: int = 2
    random_crop_padding: int = 0


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(key=key, problem=f"got {value!r}", allowed=allowed)


def validate_data_config(data: DataConfig, key: str = "data") -> None:
    """Check the values of a DataConfig (or a DictConfig with its keys); raise ConfigError."""
    _check(data.dataset in DATASETS, f"{key}.dataset", data.dataset, ", ".join(DATASETS))
    _check(data.num_workers >= 0, f"{key}.num_workers", data.num_workers, "an integer >= 0")
    _check(data.num_classes >= 1, f"{key}.num_classes", data.num_classes, "an integer >= 1")
    _check(data.image_size >= 1, f"{key}.image_size", data.image_size, "an integer >= 1")
    _check(len(data.mean) == 3, f"{key}.mean", list(data.mean), "3 floats, one per RGB channel")
    _check(
        len(data.std) == 3 and all(s > 0 for s in data.std),
        f"{key}.std",
        list(data.std),
        "3 positive floats, one per RGB channel",
    )
    _check(0.0 <= data.val_fraction < 1.0, f"{key}.val_fraction", data.val_fraction, "0 <= x < 1")
    _check(
        data.augment_on in AUGMENT_ON,
        f"{key}.augment_on",
        data.augment_on,
        "auto (batched for in-memory data sets), batch or workers",
    )
    if data.augment_on == "batch" and data.dataset not in IN_MEMORY_DATASETS:
        raise ConfigError(
            key=f"{key}.augment_on",
            problem=f"got 'batch', but {data.dataset!r} images are read from files one by one",
            allowed=f"auto or workers; batch needs one of {', '.join(IN_MEMORY_DATASETS)}",
        )
    if data.dataset != "digits" and not data.train_path:
        raise ConfigError(
            key=f"{key}.train_path",
            problem=f"is required for dataset {data.dataset!r}",
            allowed="a directory (for cifar/stl10 the root holding the torchvision layout)",
        )
    if data.dataset == "folder" and data.val_path:
        raise ConfigError(
            key=f"{key}.val_path",
            problem=f"got {data.val_path!r}, but unlabelled 'folder' data has no validation",
            allowed="null, or dataset=imagefolder for labelled class sub-folders",
        )


def _check_prob(value: float, key: str) -> None:
    _check(0.0 <= value <= 1.0, key, value, "a probability in [0, 1]")


def validate_augmentations(
    pipelines: Sequence[AugmentationConfig], key: str = "augmentations"
) -> None:
    """Check a list of augmentation pipelines; raise ConfigError naming e.g. augmentations.1.rrc."""
    _check(len(pipelines) >= 1, key, list(pipelines), "a list of at least one pipeline")
    for i, aug in enumerate(pipelines):
        at = f"{key}.{i}"
        lo, hi = aug.rrc.crop_min_scale, aug.rrc.crop_max_scale
        _check(0.0 < lo <= hi <= 1.0, f"{at}.rrc", (lo, hi), "0 < crop_min_scale <= max <= 1")
        jitter = aug.color_jitter
        _check_prob(jitter.prob, f"{at}.color_jitter.prob")
        for name in ("brightness", "contrast", "saturation"):
            value = getattr(jitter, name)
            _check(value >= 0.0, f"{at}.color_jitter.{name}", value, "a float >= 0")
        _check(0.0 <= jitter.hue <= 0.5, f"{at}.color_jitter.hue", jitter.hue, "0 <= hue <= 0.5")
        blur = aug.gaussian_blur
        _check_prob(blur.prob, f"{at}.gaussian_blur.prob")
        _check(
            0.0 < blur.sigma_min <= blur.sigma_max,
            f"{at}.gaussian_blur",
            (blur.sigma_min, blur.sigma_max),
            "0 < sigma_min <= sigma_max",
        )
        for name in ("grayscale", "solarization", "equalization", "horizontal_flip"):
            _check_prob(getattr(aug, name).prob, f"{at}.{name}.prob")
        _check(aug.crop_size >= 1, f"{at}.crop_size", aug.crop_size, "an integer >= 1")
        _check(aug.num_crops >= 1, f"{at}.num_crops", aug.num_crops, "an integer >= 1")
        padding = aug.random_crop_padding
        _check(padding >= 0, f"{at}.random_crop_padding", padding, "an integer >= 0")
        _check(
            padding == 0 or not aug.rrc.enabled,
            f"{at}.random_crop_padding",
            padding,
            "0 while rrc.enabled=true (padded random crops replace the random resized crop)",
        )
