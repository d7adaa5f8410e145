"""The LightningModule core every method extends through a few small hooks.

A method turns a batch of views into a :class:`StepOutput` (``embed``) and names its own objective
(``objective``); the base class owns the backbone, the loss heads, the online linear probe, the
optimizer and the schedule. A new method is a subclass of about a hundred lines.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
from omegaconf import MISSING, DictConfig, OmegaConf
from torch import Tensor, nn

from hyperssl.backbones import create_backbone
from hyperssl.errors import ConfigError, require
from hyperssl.eval.metrics import labelled_cross_entropy, top_k_accuracy
from hyperssl.geometries import create_geometry
from hyperssl.heads import LossHead, StepOutput, build_head, build_heads
from hyperssl.layers.projector import ProjectorConfig
from hyperssl.methods.nan_guard import checks_each_step
from hyperssl.methods.nan_guard_hooks import NanGuardHooks
from hyperssl.methods.performance import compile_modules, to_memory_format
from hyperssl.optim import ScheduledOptimization, split_decay_groups
from hyperssl.random_states import capture_random_states, restore_random_states
from hyperssl.registry import PartConfig
from hyperssl.step_logging import is_logging_step

Batch = tuple[list[Tensor], Tensor, Tensor]
PROBE_LOSS = "the online probe's loss 'train/probe_loss'"


@dataclass
class MethodConfig(PartConfig):
    """Keys shared by every method."""

    name: str = MISSING
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    objective_weight: float = 1.0  # 0 trains on the heads alone (the objective is still logged)
    # False: one backbone pass per view, so BatchNorm normalises each view on its own, as
    # solo-learn and the GCL fork (whose numbers we reproduce) do. True: the views of one shape
    # go through as one batch, fewer and larger kernels (faster on GPUs), but BatchNorm's
    # statistics then span all views (a different objective, see README "Fidelity").
    views_in_one_batch: bool = False

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        self.projector.validate(cfg, f"{key}.projector")
        require(
            self.objective_weight >= 0, f"{key}.objective_weight", self.objective_weight, ">= 0"
        )


def backbone_from_config(cfg: DictConfig, image_size: int) -> nn.Module:
    """The backbone described by a run's ``backbone`` config, for crops of ``image_size`` pixels."""
    kwargs = dict(cfg.backbone.kwargs)
    if cfg.backbone.model_name is not None:
        kwargs["model_name"] = cfg.backbone.model_name
    return create_backbone(cfg.backbone.name, image_size, cfg.backbone.small_stem, **kwargs)


def forward_views(module: nn.Module, views: list[Tensor], in_one_batch: bool) -> list[Tensor]:
    """``module`` applied to each view: one pass per view, or (``in_one_batch``, when every view
    has the same shape) one pass over their concatenation, split back per view."""
    if in_one_batch and all(view.shape == views[0].shape for view in views):
        return list(module(torch.cat(views)).chunk(len(views)))
    return [module(view) for view in views]


def pretrain_crop_size(cfg: DictConfig) -> int:
    """The largest crop of the augmentation pipelines: the size the backbone is built for."""
    return max(pipeline.crop_size for pipeline in cfg.augmentations)


def large_view_count(cfg: DictConfig) -> int | None:
    """How many views are large crops when the pipelines crop more than one size (multi-crop,
    the large pipelines first: :func:`hyperssl.validation.check_multi_crop`); None when every
    view has the same size."""
    crops = [pipeline.crop_size for pipeline in cfg.augmentations]
    if len(set(crops)) == 1:
        return None
    return sum(p.num_crops for p in cfg.augmentations if p.crop_size == max(crops))


def unique_log_names(objective: str, selected: list[str]) -> list[str]:
    """Log names of the objective and the selected heads, each counted once: a selected head is
    logged under its key (``heads.<name>`` -> ``train/<name>``); the objective under its own
    name, or ``objective_<name>`` when a selected head has the same name."""
    return [f"objective_{objective}" if objective in selected else objective, *selected]


class BaseMethod(NanGuardHooks, ScheduledOptimization, pl.LightningModule, abc.ABC):
    """Backbone + the method's modules + heads + online probe.

    Hooks, in the order they run: ``build_classifier()`` (the online probe, or a supervised
    method's classifier), ``build()`` (the method's own modules: projector, predictor, momentum
    copies, queues), ``objective()`` (the method's loss, the first head; the heads selected with
    ``heads=`` are built after it), and per step ``embed(views, labels)`` -> StepOutput and
    ``after_step(out)``. ``learnable_params()`` gives the optimizer's parameter groups.
    ``produces`` names the StepOutput fields the method fills (set it in ``build`` when it depends
    on the config).
    """

    produces: ClassVar[frozenset[str]] = frozenset()
    # Whether a linear probe on detached features is trained alongside (self-supervised methods).
    online_probe: ClassVar[bool] = True
    # The fewest views a step needs (two for the joint-embedding objectives).
    min_views: ClassVar[int] = 2
    # Whether the objective takes multi-crop views (large crops first, then smaller ones): the
    # papers that define it for small crops (SwAV's Sec. 3.2, DINO; SimCLR in SwAV's Table 3).
    multi_crop: ClassVar[bool] = False
    # Module-name prefixes whose conv/linear layers weight-based heads (MHE) regularise.
    regularized_layers: ClassVar[tuple[str, ...]] = ("backbone", "projector")

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": OmegaConf.to_container(cfg, resolve=True)})
        self.cfg = cfg
        self.geometry = create_geometry(cfg.geometry)
        self.backbone = backbone_from_config(cfg, pretrain_crop_size(cfg))
        self.num_features: int = self.backbone.num_features
        self.num_classes: int = cfg.data.num_classes
        self.num_large_views = large_view_count(cfg)
        self.classifier = self.build_classifier()
        self.build()
        objective = self.objective()
        objective.weight = cfg.method.objective_weight
        self.heads = nn.ModuleList([objective, *build_heads(cfg.heads, self.geometry)])
        self.head_names = unique_log_names(objective.name, list(cfg.heads))
        self._check_head_inputs()
        # Every logged loss: each head's term and the online probe's (their weighted sum, which
        # is logged too, overflows only with its gradient, and the state check sees that).
        losses = {name: f"head {name!r}" for name in self.head_names}
        if self.online_probe:
            losses[PROBE_LOSS] = PROBE_LOSS
        self.set_up_nan_guard(losses)
        self.logs_this_step = True  # whether the current training step logs (step_logging.py)
        self.labelled_data = True  # whether training labels exist (set in on_fit_start)
        self.memory_format = (
            torch.channels_last if cfg.trainer.channels_last else torch.contiguous_format
        )

    # ----------------------------------------------------------------- hooks for subclasses
    def build_classifier(self) -> nn.Module:
        """The classifier on the backbone's features: the online linear probe by default."""
        return nn.Linear(self.num_features, self.num_classes)

    def build(self) -> None:
        """Create the method's own modules (called after the backbone, before the heads)."""

    @abc.abstractmethod
    def objective(self) -> LossHead:
        """The method's own loss, as the first head (see :meth:`objective_head`)."""

    @abc.abstractmethod
    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        """Forward every view; return the named embeddings of the step."""

    def after_step(self, out: StepOutput) -> None:
        """Called after the loss of a training step is computed (MoCo stores its keys here)."""

    def objective_head(self, name: str, **values: Any) -> LossHead:
        """The registered head ``name`` with ``values`` from the method's config, in the run's
        geometry: what :meth:`objective` returns."""
        return build_head(name, values, self.geometry)

    # ----------------------------------------------------------------- shared machinery
    def _check_head_inputs(self) -> None:
        for head in self.heads:
            missing = [name for name in head.inputs if name not in self.produces]
            if missing:
                raise ConfigError(
                    f"heads.{head.name}",
                    f"needs {', '.join(missing)}, which method {self.cfg.method.name!r} "
                    "does not produce",
                    f"heads whose inputs are within {sorted(self.produces)}",
                )

    def encode(self, views: list[Tensor]) -> list[Tensor]:
        """Backbone features per view, one pass per view unless ``method.views_in_one_batch``
        (see :func:`forward_views`)."""
        return forward_views(self.backbone, views, self.cfg.method.views_in_one_batch)

    def forward(self, images: Tensor) -> Tensor:
        """Backbone features [B, F] of a batch of images."""
        return self.backbone(images)

    def classify(self, feats: Tensor) -> Tensor:
        """Class logits for validation: the online probe on detached features by default."""
        return self.classifier(feats.detach())

    def loss_terms(self, out: StepOutput) -> dict[str, Tensor]:
        """Each head's unweighted value, keyed by its unique log name."""
        return {name: head(out) for name, head in zip(self.head_names, self.heads, strict=True)}

    def _classification_metrics(
        self, logits: Tensor, labels: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Cross-entropy, top-1 and top-5 accuracy in % (labels of -1 are ignored)."""
        loss = labelled_cross_entropy(logits, labels)
        return loss, top_k_accuracy(logits, labels, 1), top_k_accuracy(logits, labels, 5)

    # ----------------------------------------------------------------- speed and memory layout
    def on_fit_start(self) -> None:
        self._nan_check_each_step = checks_each_step(self.cfg.nan_guard, self.device)
        # Known from the data set rather than read off each batch's labels, which would wait for
        # the device every step.
        self.labelled_data = getattr(self.trainer.datamodule, "labelled", True)
        distributed_on_cpu = self.device.type == "cpu" and self.trainer.world_size > 1
        if self.memory_format == torch.channels_last and distributed_on_cpu:
            # DDP's CPU gradient buckets do not match channels-last strides: a warning on every
            # step and no speed to gain (the layout pays with tensor cores).
            self.memory_format = torch.contiguous_format
        if self.memory_format == torch.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.cfg.compile:
            compile_modules(self, exclude=("classifier", "heads"))

    def refuse_single_sample_batch_norm(self) -> None:
        """BatchNorm over features [B, D] has no batch statistics for B = 1 and fails in its first
        training step: the entry point asks before training, to say so naming the layer."""
        batch_size = self.cfg.optimizer.batch_size
        if batch_size >= 2:
            return
        for name, module in self.named_modules():
            if isinstance(module, nn.BatchNorm1d):
                raise ConfigError(
                    "optimizer.batch_size",
                    f"got {batch_size}, but the BatchNorm1d layer {name!r} needs at least 2 "
                    "samples per step in training",
                    ">= 2 (with at least 2 training images)",
                )

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        self._snapshot_before_step()
        views, labels, _ = batch
        views = [to_memory_format(view, self.memory_format) for view in views]
        local = self.embed(views, labels)
        local.num_large_views = self.num_large_views
        out = local.gathered()  # batch-level losses see the global batch under DDP
        terms = self.loss_terms(out)
        weighted = zip(self.heads, terms.values(), strict=True)
        loss = sum(head.weight * term for head, term in weighted)
        self.after_step(out)
        # The probe and the method's classifier read the large crops only (small crops see a
        # fraction of the object, and evaluation is on full images).
        large_feats = local.large(local.feats)
        labels = labels.repeat(max(len(large_feats), 1))
        probe_logits = probe_loss = None
        if self.online_probe:
            probe_logits = self.classifier(torch.cat(large_feats).detach())
            probe_loss = labelled_cross_entropy(probe_logits, labels)
        losses = terms if probe_loss is None else {**terms, PROBE_LOSS: probe_loss}
        self.nan_guard.observe(losses, self.global_step)
        if self._nan_check_each_step:
            self._stop_if_a_loss_is_not_finite()
        self.logs_this_step = self._trainer is None or is_logging_step(self.trainer, batch_idx)
        if self.logs_this_step:
            metrics = self._step_metrics(
                terms, loss, labels, local.logits, probe_logits, probe_loss
            )
            self.log_dict(metrics, on_step=True, on_epoch=False)
        return loss if probe_loss is None else loss + probe_loss

    def _step_metrics(
        self,
        terms: dict[str, Tensor],
        loss: Tensor,
        labels: Tensor,
        logits: Tensor | None,
        probe_logits: Tensor | None,
        probe_loss: Tensor | None,
    ) -> dict[str, Tensor]:
        """What a logging step logs: every head's term (and its named parts), their weighted sum,
        and the accuracy of
        the method's classifier and of the online probe when there is one and the data has
        labels (on unlabelled data they would read 0, which looks like a result)."""
        metrics = {f"train/{name}": value.detach() for name, value in terms.items()}
        for name, head in zip(self.head_names, self.heads, strict=True):
            metrics.update({f"train/{name}_{part}": v for part, v in head.last_terms.items()})
        metrics["train/loss"] = loss.detach()
        if not self.labelled_data:
            return metrics
        if logits is not None:
            metrics["train/acc1"] = top_k_accuracy(logits.detach(), labels, 1)
        if probe_logits is not None and probe_loss is not None:
            metrics["train/probe_loss"] = probe_loss.detach()
            metrics["train/probe_acc1"] = top_k_accuracy(probe_logits, labels, 1)
        return metrics

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        images, labels = batch
        images = to_memory_format(images, self.memory_format)
        loss, acc1, acc5 = self._classification_metrics(
            self.classify(self.backbone(images)), labels
        )
        self.log_dict(
            {"val/loss": loss, "val/acc1": acc1, "val/acc5": acc5},
            on_epoch=True,
            sync_dist=True,
            batch_size=len(labels),
        )

    def learnable_modules(self) -> dict[str, nn.Module]:
        """Modules trained by the main optimizer, by name (all but an online probe)."""
        probe = "classifier" if self.online_probe else None
        return {name: module for name, module in self.named_children() if name != probe}

    def module_groups(self, name: str, module: nn.Module, **options: Any) -> list[dict[str, Any]]:
        """The parameter groups of ``module`` (named ``name``, split by weight decay per
        ``optimizer.exclude_bias_n_norm``), each with the group ``options``."""
        exclude = self.cfg.optimizer.exclude_bias_n_norm
        return [{**group, **options} for group in split_decay_groups(module, exclude, name)]

    def learnable_params(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups (see :class:`hyperssl.optim.ScheduledOptimization`
        for the per-group options ``lr``, ``weight_decay`` and ``static_lr``): each learnable
        module's, and the online probe's with ``optimizer.classifier_lr`` and no weight decay.
        A method extends the list, e.g. with a fixed-lr predictor (see SimSiam)."""
        groups = [
            group
            for name, module in self.learnable_modules().items()
            for group in self.module_groups(name, module)
        ]
        if self.online_probe:
            groups.append(
                {
                    "name": "classifier",
                    "params": list(self.classifier.parameters()),
                    "lr": self.cfg.optimizer.classifier_lr,
                    "weight_decay": 0.0,
                }
            )
        return groups

    def configure_optimizers(self) -> dict[str, Any]:
        return self.optimization(self.learnable_params(), self.cfg.optimizer, self.cfg.scheduler)

    # ------------------------------------------------------------ exact resume of randomness
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._raise_if_not_finite(self.global_step)  # never write a NaN or inf
        checkpoint["rng_states"] = capture_random_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("rng_states")
        if states is not None:
            restore_random_states(states)
