"""Structured-config schemas of the evaluation entry points: ``main_linear.py``, ``main_knn.py``.

As for pretraining, the dataclasses are the one place where a key, its type and its default live;
``configs/linear.yaml`` and ``configs/knn.yaml`` only choose values. The backbone is not part of
either schema: it is read from the checkpoint named by ``pretrained_feature_extractor``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from hyperssl.config import (
    CheckpointConfig,
    LoggerConfig,
    OptimizerConfig,
    SchedulerConfig,
    TrainerConfig,
)
from hyperssl.data.schema import (
    AugmentationConfig,
    ColorJitterConfig,
    DataConfig,
    ProbabilityConfig,
)
from hyperssl.errors import require

FEATURE_TYPES = ("backbone", "projector")
DEVICES = ("auto", "cpu", "cuda")


def standard_probe_augmentation() -> AugmentationConfig:
    """The usual linear-evaluation augmentation: random-resized crop (area 8-100%) and a
    horizontal flip, no colour changes; one view per image."""
    return AugmentationConfig(
        color_jitter=ColorJitterConfig(prob=0.0),
        grayscale=ProbabilityConfig(prob=0.0),
        num_crops=1,
    )


@dataclass
class FeatureCacheConfig:
    """Extracted features kept on disk, keyed by the checkpoint file and the data config."""

    enabled: bool = True
    dir: str = "~/.cache/hyperssl/features"


@dataclass
class LinearProbeConfig:
    """What the classifier on top of the pretrained backbone is trained on.

    augment:   augmented training images (``augmentation``; its crop size is
               ``data.image_size``), as the standard protocol does; else the eval transform.
    precompute_features: with a frozen backbone and no augmentation the features never change,
               so extract them once (cached on disk under ``feature_cache``) and train the head on
               them; the result is that of the slow path, many times faster.
    backbone_lr: with ``finetune=true``, the backbone's learning rate, in ``optimizer.lr``'s
               units (scaled with the batch like it); the head keeps ``optimizer.lr``. Pretrained
               weights get smaller steps than a new head: solo-learn's fine-tuning recipe
               (``scripts/finetune/imagenet*/mae.yaml``: AdamW, lr 5e-4 at batch 64 x 8 GPUs,
               weight decay 0.05, 10 warm-up epochs, 100 epochs) scales the lr of block k of L by
               ``layer_decay^(L-k)`` with ``layer_decay=0.75``, so no backbone layer gets the
               head's lr. The default, a tenth of the quickstart head's 0.4, gives 97.8% top-1 on
               the quickstart's digits (0.1: 97.2%, 0.4: 98.9%; frozen, cached: 95.0%).
    """

    augment: bool = True
    precompute_features: bool = True
    augmentation: AugmentationConfig = field(default_factory=standard_probe_augmentation)
    backbone_lr: float = 0.04


@dataclass
class LinearConfig:
    pretrained_feature_extractor: str = "latest"  # .ckpt, run directory, backbone.safetensors
    finetune: bool = False  # train the backbone with the head (train mode, linear.augment applies)
    data: DataConfig = field(default_factory=DataConfig)
    linear: LinearProbeConfig = field(default_factory=LinearProbeConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    checkpoint: CheckpointConfig = field(
        default_factory=lambda: CheckpointConfig(monitor="val/acc1")
    )
    feature_cache: FeatureCacheConfig = field(default_factory=FeatureCacheConfig)
    name: str = "linear-${data.dataset}"
    seed: int = 5
    nan_guard: str = "auto"  # a NaN/inf loss stops the probe, exit 3: auto, step, deferred
    # auto: continue this run directory from its newest checkpoint (a probe stopped by a signal,
    # or requeued), else start it there; null: a new run directory.
    resume: str | None = None


@dataclass
class KNNSweepConfig:
    """Every combination of these values is evaluated (temperature only weights cosine votes).
    The vote, its ties and top-5 with fewer than 5 classes: :mod:`hyperssl.eval.knn`."""

    k: list[int] = field(default_factory=lambda: [20])
    temperature: list[float] = field(default_factory=lambda: [0.07])
    feature_type: list[str] = field(default_factory=lambda: ["backbone"])
    distance_function: list[str] = field(default_factory=lambda: ["cosine"])
    # Memory is O(test_chunk_size x train_chunk_size) beyond the features themselves.
    test_chunk_size: int = 1024
    train_chunk_size: int = 16384


@dataclass
class KNNRunConfig:
    pretrained_feature_extractor: str = "latest"  # .ckpt, run directory, backbone.safetensors
    data: DataConfig = field(default_factory=DataConfig)
    knn: KNNSweepConfig = field(default_factory=KNNSweepConfig)
    batch_size: int = 256  # images per forward pass during feature extraction
    # Training features the spread metrics read (uniformity, Wasserstein uniformity, RankMe),
    # a seeded sample when the split is larger (uniformity's pairs grow as its square); 0: none.
    diagnostics_samples: int = 4096
    device: str = "auto"  # auto: cuda when available
    feature_cache: FeatureCacheConfig = field(default_factory=FeatureCacheConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)  # beside metrics.csv
    name: str = "knn-${data.dataset}"
    seed: int = 5


def register_eval_configs(store: ConfigStore) -> None:
    store.store(name="linear_schema", node=LinearConfig)
    store.store(name="knn_schema", node=KNNRunConfig)


def _check_pretrained(cfg: DictConfig) -> None:
    require(
        bool(str(cfg.pretrained_feature_extractor).strip()),
        "pretrained_feature_extractor",
        cfg.pretrained_feature_extractor,
        "a .ckpt file, a run directory, a backbone.safetensors file, or latest",
    )


def validate_linear(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first bad value of a linear-evaluation config."""
    from hyperssl.data.schema import validate_augmentations, validate_data_config
    from hyperssl.methods.nan_guard import NAN_GUARD_MODES
    from hyperssl.validation import check_entry_config, validate_training

    check_entry_config(cfg)
    _check_pretrained(cfg)
    validate_training(cfg)
    validate_data_config(cfg.data)
    validate_augmentations([cfg.linear.augmentation], key="linear.augmentation")
    require(cfg.linear.backbone_lr > 0, "linear.backbone_lr", cfg.linear.backbone_lr, "> 0")
    require(
        cfg.nan_guard in NAN_GUARD_MODES, "nan_guard", cfg.nan_guard, ", ".join(NAN_GUARD_MODES)
    )
    require(bool(cfg.feature_cache.dir), "feature_cache.dir", cfg.feature_cache.dir, "a directory")
    require(
        cfg.resume in (None, "auto"),
        "resume",
        cfg.resume,
        "null or auto (a probe continues in its own run directory)",
    )


def validate_knn(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` on the first bad value of a k-NN evaluation config."""
    from hyperssl.data.schema import validate_data_config
    from hyperssl.eval.knn import DISTANCES
    from hyperssl.loggers import LOGGERS
    from hyperssl.validation import check_entry_config, validate_part

    check_entry_config(cfg)
    _check_pretrained(cfg)
    validate_part(LOGGERS, cfg, "logger")
    knn = cfg.knn
    require(len(knn.k) >= 1 and all(k >= 1 for k in knn.k), "knn.k", list(knn.k), "integers >= 1")
    require(
        len(knn.temperature) >= 1 and all(t > 0 for t in knn.temperature),
        "knn.temperature",
        list(knn.temperature),
        "floats > 0",
    )
    for key, values, allowed in (
        ("knn.feature_type", knn.feature_type, FEATURE_TYPES),
        ("knn.distance_function", knn.distance_function, DISTANCES),
    ):
        require(
            len(values) >= 1 and all(v in allowed for v in values),
            key,
            list(values),
            ", ".join(allowed),
        )
    for key in ("test_chunk_size", "train_chunk_size"):
        require(knn[key] >= 1, f"knn.{key}", knn[key], ">= 1")
    require(cfg.batch_size >= 1, "batch_size", cfg.batch_size, ">= 1")
    samples = cfg.diagnostics_samples
    require(samples == 0 or samples >= 2, "diagnostics_samples", samples, "0 (none) or >= 2")
    require(cfg.device in DEVICES, "device", cfg.device, ", ".join(DEVICES))
    validate_data_config(cfg.data)
    require(bool(cfg.feature_cache.dir), "feature_cache.dir", cfg.feature_cache.dir, "a directory")
