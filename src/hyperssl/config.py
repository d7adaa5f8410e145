"""Structured-config schemas, registered in Hydra's ConfigStore.

The schema is the one place where a key, its type and its default live; the YAML files under
``configs/`` only choose values. Hydra merges every YAML onto these dataclasses in struct mode, so a
misspelt key or a value of the wrong type is rejected before anything is built.

Group options that carry their own keys (methods, heads) extend a per-option schema stored in the
same group (``method/simclr.yaml`` starts with ``defaults: [simclr_schema]``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from hyperssl.callbacks.schema import DiagnosticsConfig
from hyperssl.data.schema import AugmentationConfig, DataConfig


@dataclass
class ProjectorConfig:
    """The MLP from backbone features to the embedding z compared on the sphere."""

    hidden_dim: int = 2048
    output_dim: int = 128
    num_layers: int = 2
    spherize: bool = False  # last layer = Spherization + bias-free linear (Kim & Kim, 2022)


@dataclass
class MethodConfig:
    """Keys shared by every self-supervised method."""

    name: str = MISSING
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    objective_weight: float = 1.0  # 0 trains on the heads alone (the objective is still logged)


@dataclass
class SimCLRConfig(MethodConfig):
    name: str = "simclr"
    temperature: float = 0.2


@dataclass
class MomentumConfig:
    """EMA of the momentum encoders: τ rises from ``base_tau`` to ``final_tau`` on a cosine."""

    base_tau: float = 0.99
    final_tau: float = 1.0


@dataclass
class PredictorConfig:
    hidden_dim: int = 4096


@dataclass
class MoCoV2PlusConfig(MethodConfig):
    name: str = "mocov2plus"
    temperature: float = 0.2
    queue_size: int = 65536
    momentum: MomentumConfig = field(default_factory=lambda: MomentumConfig(0.99, 0.999))


@dataclass
class MoCoV3Config(MethodConfig):
    name: str = "mocov3"
    temperature: float = 0.2
    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(4096, 256, 3))
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    momentum: MomentumConfig = field(default_factory=MomentumConfig)


@dataclass
class BYOLConfig(MethodConfig):
    name: str = "byol"
    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(4096, 256))
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    momentum: MomentumConfig = field(default_factory=MomentumConfig)


@dataclass
class SpherizationConfig:
    """The spherization layer's hyperparameters (Kim & Kim 2022): scaling, radius, which of the
    two are learnable ("TF": scaling learnable, radius fixed), and the angle lower bound delta."""

    scaling: float = 5.0
    radius: float = 5.0
    lrable: str = "TF"
    delta: float = 1e-6


@dataclass
class SupervisedConfig(MethodConfig):
    name: str = "supervised"
    classifier: str = "linear"  # or "spheric": SphericLinear
    spherization: SpherizationConfig = field(default_factory=SpherizationConfig)
    label_smoothing: float = 0.0
    use_projector: bool = False  # a projection head giving z (HCR, contrastive heads)


@dataclass
class GeometryConfig:
    name: str = "cosine"


@dataclass
class GCLKwargsConfig:
    """GCL/solo-learn spelling: ``method_kwargs.geometric_loss=True`` = ``geometry=geodesic``."""

    geometric_loss: bool = False


@dataclass
class BackboneConfig:
    name: str = "resnet18"
    model_name: str | None = None  # backbone=timm: any timm model name
    small_stem: bool | None = None  # None: chosen by the crop size (<= 64 px gets the small stem)
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerConfig:
    name: str = "lars"
    lr: float = 0.4  # at the reference batch 256; scaled linearly with the global batch
    batch_size: int = 256  # per device
    weight_decay: float = 1e-5
    momentum: float = 0.9
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    trust_coefficient: float = 0.02  # LARS eta
    exclude_bias_n_norm: bool = True  # no weight decay / LARS adaptation on biases and norms
    classifier_lr: float = 0.1  # online linear probe
    scale_lr_by_batch: bool = True
    reference_batch_size: int = 256


@dataclass
class SchedulerConfig:
    name: str = "warmup_cosine"
    warmup_epochs: float = 10.0
    warmup_start_lr: float = 0.0
    min_lr: float = 0.0
    lr_decay_epochs: list[int] = field(default_factory=lambda: [60, 80])
    gamma: float = 0.1


@dataclass
class TrainerConfig:
    """Lightning ``Trainer`` arguments, passed through as they are."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_epochs: int = 100
    max_steps: int = -1
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    check_val_every_n_epoch: int = 1
    log_every_n_steps: int = 10
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = None
    deterministic: Any = False
    benchmark: bool | None = None
    sync_batchnorm: bool | None = None  # None: on whenever training is distributed
    enable_progress_bar: bool = True
    num_sanity_val_steps: int = 0
    # Not a Lightning argument: convolutions in channels-last layout (faster with tensor cores
    # under mixed precision; the gpu and ddp presets turn it on).
    channels_last: bool = False


@dataclass
class LoggerConfig:
    name: str = "csv"
    project: str = "hyperssl"
    entity: str | None = None
    offline: bool | None = None  # wandb: None = offline unless an API key is configured


@dataclass
class CheckpointConfig:
    enabled: bool = True
    every_n_epochs: int = 1
    monitor: str | None = "val/acc1"  # the "best" checkpoint; None keeps only last.ckpt
    keep_every_epoch: bool = False  # also keep checkpoints/epochNNN.ckpt of every saved epoch
    mode: str = "max"


@dataclass
class KNNConfig:
    """The weighted k-NN run on the final features of a pretraining run."""

    enabled: bool = True
    k: int = 20
    temperature: float = 0.07


@dataclass
class PretrainConfig:
    method: Any = MISSING
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augmentations: list[AugmentationConfig] = field(default_factory=list)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    heads: dict[str, Any] = field(default_factory=dict)
    method_kwargs: GCLKwargsConfig = field(default_factory=GCLKwargsConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    knn: KNNConfig = field(default_factory=KNNConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    name: str = "${method.name}-${data.dataset}"
    seed: int = 5
    resume: str | None = None  # a .ckpt, a run dir, or "auto": continue this run dir if it has one
    compile: bool = False  # torch.compile the backbone, projector and predictor (eager fallback)
    nan_guard: str = "auto"  # when a NaN/inf loss is caught: auto, step, deferred (nan_guard.py)


METHOD_SCHEMAS: dict[str, type[MethodConfig]] = {
    "simclr": SimCLRConfig,
    "mocov2plus": MoCoV2PlusConfig,
    "mocov3": MoCoV3Config,
    "byol": BYOLConfig,
    "supervised": SupervisedConfig,
}


MAX_DIR_NAME = 120


def short_dir_name(name: str) -> str:
    """A sweep job's directory name: its overrides, readable, but cut (with a hash of the whole,
    to stay unique) before file systems refuse it (255 bytes)."""
    if len(name) <= MAX_DIR_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_DIR_NAME - 9]}-{digest}"


def register_configs() -> None:
    """Store the schemas; called once by the entry points before Hydra composes."""
    OmegaConf.register_new_resolver("short", short_dir_name, replace=True)
    store = ConfigStore.instance()
    store.store(name="pretrain_schema", node=PretrainConfig)
    for name, schema in METHOD_SCHEMAS.items():
        store.store(group="method", name=f"{name}_schema", node=schema)
    from hyperssl.eval.schema import register_eval_configs  # it imports this module

    register_eval_configs(store)
