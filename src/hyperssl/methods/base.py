"""The LightningModule core every method extends through a few small hooks.

A method turns a batch of views into a :class:`StepOutput` (``embed``) and names its own objective
(``objective``); the base class owns the backbone, the loss heads, the online linear probe, the
optimizer and the schedule. A new method is a subclass of about a hundred lines.
"""

from __future__ import annotations

import abc
import random
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from timm.scheduler.scheduler import Scheduler as TimmScheduler
from torch import Tensor, nn

from hyperssl.backbones import create_backbone
from hyperssl.errors import ConfigError
from hyperssl.eval.metrics import labelled_cross_entropy, top_k_accuracy
from hyperssl.heads import LossHead, StepOutput, build_heads
from hyperssl.methods.nan_guard import NonFiniteGuard
from hyperssl.methods.performance import compile_modules, to_memory_format
from hyperssl.optim import build_optimizer, build_scheduler, scaled_lr, split_decay_groups
from hyperssl.step_logging import is_logging_step

Batch = tuple[list[Tensor], Tensor, Tensor]


def backbone_from_config(cfg: DictConfig, image_size: int) -> nn.Module:
    """The backbone described by a run's ``backbone`` config, for crops of ``image_size`` pixels."""
    kwargs = dict(cfg.backbone.kwargs)
    if cfg.backbone.model_name is not None:
        kwargs["model_name"] = cfg.backbone.model_name
    return create_backbone(cfg.backbone.name, image_size, cfg.backbone.small_stem, **kwargs)


def pretrain_crop_size(cfg: DictConfig) -> int:
    """The largest crop of the augmentation pipelines: the size the backbone is built for."""
    return max(pipeline.crop_size for pipeline in cfg.augmentations)


class BaseMethod(pl.LightningModule, abc.ABC):
    """Backbone + heads + online probe; subclasses add their projector/predictor/momentum parts.

    Hooks: ``objective()`` returns the method's own loss head (the first head), ``embed(views,
    labels)`` returns the step's StepOutput, ``produces`` names the StepOutput fields it fills.
    """

    produces: ClassVar[frozenset[str]] = frozenset()
    # Whether a linear probe on detached features is trained alongside (self-supervised methods).
    online_probe: ClassVar[bool] = True
    # The fewest views a step needs (two for the joint-embedding objectives).
    min_views: ClassVar[int] = 2
    # Module-name prefixes whose conv/linear layers weight-based heads (MHE) regularise.
    regularized_layers: ClassVar[tuple[str, ...]] = ("backbone", "projector")

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": OmegaConf.to_container(cfg, resolve=True)})
        self.cfg = cfg
        self.geometry: str = cfg.geometry.name
        self.backbone = backbone_from_config(cfg, pretrain_crop_size(cfg))
        self.num_features: int = self.backbone.num_features
        self.num_classes: int = cfg.data.num_classes
        self.classifier = nn.Linear(self.num_features, self.num_classes)
        self.heads = nn.ModuleList([self.objective(), *build_heads(cfg.heads, self.geometry)])
        self.heads[0].weight = cfg.method.objective_weight
        self._check_head_inputs()
        self.nan_guard = NonFiniteGuard([head.name for head in self.heads])
        self._nan_check_each_step = True  # resolved from cfg.nan_guard in on_fit_start
        self.logs_this_step = True  # whether the current training step logs (step_logging.py)
        self.memory_format = (
            torch.channels_last if cfg.trainer.channels_last else torch.contiguous_format
        )

    # ----------------------------------------------------------------- hooks for subclasses
    @abc.abstractmethod
    def objective(self) -> LossHead:
        """The method's own loss, as the first head."""

    @abc.abstractmethod
    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        """Forward every view; return the named embeddings of the step."""

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
        """Backbone features per view; views of one shape go through as one batch."""
        if all(view.shape == views[0].shape for view in views):
            return list(self.backbone(torch.cat(views)).chunk(len(views)))
        return [self.backbone(view) for view in views]

    def forward(self, images: Tensor) -> Tensor:
        """Backbone features [B, F] of a batch of images."""
        return self.backbone(images)

    def after_step(self, out: StepOutput) -> None:
        """Called after the loss of a training step is computed (MoCo stores its keys here)."""

    def classify(self, feats: Tensor) -> Tensor:
        """Class logits for validation: the online probe on detached features by default."""
        return self.classifier(feats.detach())

    def loss_terms(self, out: StepOutput) -> dict[str, Tensor]:
        """Each head's unweighted value, keyed by head name."""
        return {head.name: head(out) for head in self.heads}

    def _classification_metrics(
        self, logits: Tensor, labels: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Cross-entropy, top-1 and top-5 accuracy in % (labels of -1 are ignored)."""
        loss = labelled_cross_entropy(logits, labels)
        return loss, top_k_accuracy(logits, labels, 1), top_k_accuracy(logits, labels, 5)

    # ----------------------------------------------------------------- speed and memory layout
    def on_fit_start(self) -> None:
        mode = self.cfg.nan_guard
        self._nan_check_each_step = mode == "step" or (mode == "auto" and self.device.type == "cpu")
        if self.memory_format == torch.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.cfg.compile:
            compile_modules(self, exclude=("classifier", "heads"))

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        views, labels, _ = batch
        views = [to_memory_format(view, self.memory_format) for view in views]
        local = self.embed(views, labels)
        out = local.gathered()  # batch-level losses see the global batch under DDP
        terms = self.loss_terms(out)
        self.nan_guard.observe(terms, self.global_step)
        if self._nan_check_each_step:
            self._stop_if_not_finite()
        objective = sum(head.weight * terms[head.name] for head in self.heads)
        self.after_step(out)
        labels = labels.repeat(len(views))
        probe_logits = probe_loss = None
        if self.online_probe:
            probe_logits = self.classifier(torch.cat(local.feats).detach())
            probe_loss = labelled_cross_entropy(probe_logits, labels)
        self.logs_this_step = self._trainer is None or is_logging_step(self.trainer, batch_idx)
        if self.logs_this_step:
            metrics = {f"train/{name}": value.detach() for name, value in terms.items()}
            metrics["train/loss"] = objective.detach()
            if local.logits is not None:
                metrics["train/acc1"] = top_k_accuracy(local.logits.detach(), labels, 1)
            if probe_loss is not None:
                metrics["train/probe_loss"] = probe_loss.detach()
                metrics["train/probe_acc1"] = top_k_accuracy(probe_logits, labels, 1)
            self.log_dict(metrics, on_step=True, on_epoch=False)
        return objective if probe_loss is None else objective + probe_loss

    def _stop_if_not_finite(self) -> None:
        """``nan_guard=step``: stop before a NaN/inf reaches the weights, saving the current (last
        good) state as ``checkpoints/last_good.ckpt``; one host read per step."""
        if self.nan_guard.failure() is None:
            return
        if self._trainer is not None and self.trainer.default_root_dir:
            self.trainer.save_checkpoint(
                Path(self.trainer.default_root_dir) / "checkpoints" / "last_good.ckpt"
            )
        self.nan_guard.raise_if_failed(
            "the state before this step is in checkpoints/last_good.ckpt"
        )

    def _raise_if_a_deferred_check_failed(self) -> None:
        """``nan_guard=deferred``: read the device-side record where the host reads anyway
        (logging steps, validation, checkpoints, the end of training)."""
        if not self._nan_check_each_step:
            self.nan_guard.raise_if_failed(
                "no checkpoint was written after it, so checkpoints/last.ckpt (if any) is the "
                "last good state"
            )

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.global_step % self.trainer.log_every_n_steps == 0:
            self._raise_if_a_deferred_check_failed()

    def on_validation_start(self) -> None:
        self._raise_if_a_deferred_check_failed()  # before validation reads damaged weights

    def on_train_end(self) -> None:
        self._raise_if_a_deferred_check_failed()

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

    def configure_optimizers(self) -> dict[str, Any]:
        opt_cfg = self.cfg.optimizer
        world_size = self.trainer.world_size if self._trainer is not None else 1

        def lr_of(value: float) -> float:
            return scaled_lr(
                value,
                opt_cfg.batch_size,
                world_size,
                opt_cfg.reference_batch_size,
                opt_cfg.scale_lr_by_batch,
            )

        groups = [
            group
            for name, module in self.learnable_modules().items()
            for group in split_decay_groups(module, opt_cfg.exclude_bias_n_norm, name)
        ]
        if self.online_probe:
            groups.append(
                {
                    "name": "classifier",
                    "params": list(self.classifier.parameters()),
                    "lr": lr_of(opt_cfg.classifier_lr),
                    "weight_decay": 0.0,
                }
            )
        groups = [group for group in groups if group["params"]]
        optimizer = build_optimizer(groups, opt_cfg, lr_of(opt_cfg.lr))
        total_steps = int(self.trainer.estimated_stepping_batches)
        max_epochs = self.trainer.max_epochs or 0
        steps_per_epoch = max(total_steps // max_epochs, 1) if max_epochs > 0 else total_steps
        scheduler, interval = build_scheduler(
            optimizer, self.cfg.scheduler, total_steps, steps_per_epoch
        )
        if scheduler is None:
            return {"optimizer": optimizer}
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": interval, "frequency": 1},
        }

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        if isinstance(scheduler, TimmScheduler):
            # timm's schedulers are stepped by update count, after each optimizer step.
            scheduler.step_update(num_updates=self.global_step)
        else:
            scheduler.step()

    # ------------------------------------------------------------ exact resume of randomness
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._raise_if_a_deferred_check_failed()  # never write damaged weights
        # Plain lists and tensors only, so the checkpoint loads with torch.load(weights_only=True).
        name, keys, position, has_gauss, cached = np.random.get_state()
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(),
            "numpy": [name, keys.tolist(), position, has_gauss, cached],
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("rng_states")
        if states is not None:
            torch.set_rng_state(states["torch"])
            name, keys, position, has_gauss, cached = states["numpy"]
            np.random.set_state(
                (name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached)
            )
            random.setstate(states["python"])
