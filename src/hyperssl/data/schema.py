"""Structured-config schemas of the data layer: which data set to read and how to augment it.

The dataclasses are the single place where a data key, its type and its default live: each
registered data set (:mod:`hyperssl.data.sets`) has its :class:`DataConfig` subclass holding its
defaults (classes, image size, statistics), and ``data=<name>`` selects it. The YAML files under
``configs/augmentations`` only choose values. Augmentation names follow solo-learn's, and a
pretraining config holds a *list* of :class:`AugmentationConfig`, one per pipeline (one pipeline for
the symmetric SimCLR recipe, two for BYOL's asymmetric one).

:func:`validate_data_config` and :func:`validate_augmentations` check values that a type cannot
express (ranges, names) and raise :class:`hyperssl.ConfigError` naming the full key.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from omegaconf import MISSING, DictConfig, OmegaConf

from hyperssl.data.registry import DATASETS
from hyperssl.errors import ConfigError, require
from hyperssl.registry import PartConfig

AUGMENT_ON = ("auto", "batch", "workers")


# Pixels per side of any image a run makes. One 4096 x 4096 view is 200 MB in float32; a
# larger value is a typo (an extra digit) that would ask for terabytes per batch.
MAX_IMAGE_SIZE = 4096


@dataclass
class DataConfig(PartConfig):
    """Where the images come from and how they are loaded; the base of every data set's schema.

    The registered schema of ``dataset`` fills what is left MISSING here (``num_classes``,
    ``image_size``, ``mean``, ``std``) and may change other defaults (``train_path``).

    ``val_path`` None means the data set's own validation split: the official test split under
    ``train_path`` where there is one, the held-out ``val_fraction`` for digits, and none for
    imagefolder and folder. Digits are bundled with scikit-learn: the paths are not used.

    ``augment_on`` chooses where training views are made:

    - ``batch``: a batch at a time on the training device (:mod:`hyperssl.data.batched_augment`).
      Data sets held in memory (``DataSource.in_memory``) are gathered with no workers; image
      files (imagefolder, folder) are read by ``num_workers`` workers, which decode them with
      torchvision's CPU decoders, except on CUDA the JPEGs, decoded there by nvJPEG
      (:mod:`hyperssl.data.encoded_files`); the batch is padded in consecutive chunks of at most
      2^25 pixels, each to its largest image, and each image is cropped within its own size. A
      large photo makes its chunk pay for its size, not the whole batch.
    - ``workers``: per image in the loader's workers (PIL decode, torchvision v2 transforms).
    - ``auto``: batched for the data sets held in memory; for image files, batched on a CUDA
      device and per image in workers on a CPU.

    Why image files stay per image on a CPU: on this project's 2 shared CPU cores,
    ``python scripts/benchmark.py --sections data --rounds 2`` (96 JPEGs of photo shapes, 2
    views of 224 pixels by the ``symmetric`` recipe, batches of 32, 2 workers) gave 113-152
    views/s per image in the workers against 51-58 batched, three runs on 2026-12-01
    (BENCHMARKS.md, "Folder data sets"). Decoding is not what differs (torchvision 1.1-1.2 ms
    per image, PIL 1.3-1.4 ms): the batched augmentation's float32 steps on the padded images
    cost about twice the per-image path's uint8 steps per core.
    No CUDA figure was measured here: batched decoding and augmentation on CUDA follow what GPU
    pipelines do (solo-learn's DALI for ImageNet-100), leaving the CPU cores only the reading.

    ``skip_corrupt`` (imagefolder, folder): leave out the image files that do not decode, with a
    warning giving their count, instead of stopping with an error naming the first one; a file
    that fails later is replaced by the next sample (on the batched path, the next image of its
    batch), with a warning.

    ``eval_resize``: the evaluation view (pretraining validation, linear probe, k-NN) resizes the
    short side to this many pixels, then center-crops ``image_size``; None resizes to
    ``image_size`` itself. solo-learn evaluates ImageNet and folders at 256 for a 224 crop.
    """

    dataset: str = MISSING
    train_path: str | None = None
    val_path: str | None = None
    download: bool = False
    num_workers: int = 2
    num_classes: int = MISSING
    image_size: int = MISSING
    mean: list[float] = MISSING
    std: list[float] = MISSING
    val_fraction: float = 0.2
    stl10_unlabeled: bool = True
    pin_memory: bool = True
    skip_corrupt: bool = False
    augment_on: str = "auto"
    eval_resize: int | None = None

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        """The checks every data set shares; a data set's schema adds its own (none reads
        ``cfg``, so that a data config is checked on its own)."""
        require(self.num_workers >= 0, f"{key}.num_workers", self.num_workers, "an integer >= 0")
        require(self.num_classes >= 1, f"{key}.num_classes", self.num_classes, "an integer >= 1")
        require(
            1 <= self.image_size <= MAX_IMAGE_SIZE,
            f"{key}.image_size",
            self.image_size,
            f"an integer in [1, {MAX_IMAGE_SIZE}]",
        )
        require(
            self.eval_resize is None or self.image_size <= self.eval_resize <= MAX_IMAGE_SIZE,
            f"{key}.eval_resize",
            self.eval_resize,
            f"null (the crop size) or an integer in [image_size ({self.image_size}), "
            f"{MAX_IMAGE_SIZE}]",
        )
        require(len(self.mean) == 3, f"{key}.mean", self.mean, "3 floats, one per RGB channel")
        require(
            len(self.std) == 3 and all(s > 0 for s in self.std),
            f"{key}.std",
            self.std,
            "3 positive floats, one per RGB channel",
        )
        require(
            self.augment_on in AUGMENT_ON,
            f"{key}.augment_on",
            self.augment_on,
            "auto (batched for in-memory data sets, and for image files on CUDA), batch or workers",
        )
        source = DATASETS.get(self.dataset, f"{key}.dataset")
        if source.reads_files and not self.train_path:
            raise ConfigError(
                key=f"{key}.train_path",
                problem=f"is required for dataset {self.dataset!r}",
                allowed="a directory (for cifar/stl10 the root holding the torchvision layout)",
            )


def validate_data_config(data: DataConfig | DictConfig, key: str = "data") -> DataConfig:
    """Check a data config (a DataConfig or a DictConfig with its keys): the data set's name
    against the registry, then keys, types and values against the data set's schema (its
    :meth:`DataConfig.validate`). Returns the config as that schema's object, what ``data`` leaves
    MISSING filled with the data set's defaults; raises ConfigError naming the key."""
    DATASETS.entry(data.dataset, f"{key}.dataset")
    if isinstance(data, DictConfig):
        values = OmegaConf.to_container(data, resolve=True)
    else:
        values = dataclasses.asdict(data)
    return DATASETS.validate(data.dataset, values, None, key)


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
    ``rotation_degrees`` > 0 rotates each view by an angle uniform in [-d, d] about its centre as
    the last step (torchvision's ``RandomRotation``: nearest neighbour, corners filled with 0).
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
    rotation_degrees: float = 0.0


def _require_prob(value: float, key: str) -> None:
    require(0.0 <= value <= 1.0, key, value, "a probability in [0, 1]")


def validate_augmentations(
    pipelines: Sequence[AugmentationConfig], key: str = "augmentations"
) -> None:
    """Check a list of augmentation pipelines; raise ConfigError naming e.g. augmentations.1.rrc."""
    require(len(pipelines) >= 1, key, list(pipelines), "a list of at least one pipeline")
    for i, aug in enumerate(pipelines):
        at = f"{key}.{i}"
        lo, hi = aug.rrc.crop_min_scale, aug.rrc.crop_max_scale
        require(0.0 < lo <= hi <= 1.0, f"{at}.rrc", (lo, hi), "0 < crop_min_scale <= max <= 1")
        jitter = aug.color_jitter
        _require_prob(jitter.prob, f"{at}.color_jitter.prob")
        for name in ("brightness", "contrast", "saturation"):
            value = getattr(jitter, name)
            require(value >= 0.0, f"{at}.color_jitter.{name}", value, "a float >= 0")
        require(0.0 <= jitter.hue <= 0.5, f"{at}.color_jitter.hue", jitter.hue, "0 <= hue <= 0.5")
        blur = aug.gaussian_blur
        _require_prob(blur.prob, f"{at}.gaussian_blur.prob")
        require(
            0.0 < blur.sigma_min <= blur.sigma_max,
            f"{at}.gaussian_blur",
            (blur.sigma_min, blur.sigma_max),
            "0 < sigma_min <= sigma_max",
        )
        for name in ("grayscale", "solarization", "equalization", "horizontal_flip"):
            _require_prob(getattr(aug, name).prob, f"{at}.{name}.prob")
        require(
            1 <= aug.crop_size <= MAX_IMAGE_SIZE,
            f"{at}.crop_size",
            aug.crop_size,
            f"an integer in [1, {MAX_IMAGE_SIZE}]",
        )
        require(aug.num_crops >= 1, f"{at}.num_crops", aug.num_crops, "an integer >= 1")
        padding = aug.random_crop_padding
        require(padding >= 0, f"{at}.random_crop_padding", padding, "an integer >= 0")
        require(
            padding == 0 or not aug.rrc.enabled,
            f"{at}.random_crop_padding",
            padding,
            "0 while rrc.enabled=true (padded random crops replace the random resized crop)",
        )
        degrees = aug.rotation_degrees
        require(0 <= degrees <= 180, f"{at}.rotation_degrees", degrees, "degrees in [0, 180]")
