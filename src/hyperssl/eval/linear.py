"""The linear probe: a linear classifier on a frozen (or fine-tuned) pretrained backbone.

With a frozen backbone the backbone stays in eval mode (BatchNorm statistics untouched) and runs
without gradients. Given precomputed features, the encoder is ``nn.Identity`` and the same module
trains the head on a :class:`~torch.utils.data.TensorDataset`. Fine-tuned, the backbone trains in
train mode (BatchNorm normalises with, and updates, batch statistics) with its own learning rate.

A NaN or inf loss, or a step that leaves a weight, a BatchNorm statistic or an optimizer state
non-finite, stops training (:class:`~hyperssl.errors.NonFiniteLossError`, naming the step and what
failed) instead of training on to a chance-level accuracy: the same guard as pretraining
(:mod:`hyperssl.methods.nan_guard`), read each step on the CPU and at logging steps, validation,
checkpoints and the end of training elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, TensorDataset
from torchmetrics.classification import MulticlassAccuracy

from hyperssl.errors import NonFiniteLossError
from hyperssl.eval.data import sample_order
from hyperssl.eval.metrics import top_k_accuracy
from hyperssl.methods.nan_guard import (
    NonFiniteGuard,
    StateGuard,
    any_process,
    checks_each_step,
)
from hyperssl.optim import ScheduledOptimization, split_decay_groups
from hyperssl.step_logging import is_logging_step

LOSS_NAME = "cross_entropy"  # the probe's one loss term, as the NaN guard names it


class LinearProbe(ScheduledOptimization, pl.LightningModule):
    """``head(encoder(x))``; logs ``train/loss``, ``train/acc1`` and ``val/loss``, ``val/acc1``,
    ``val/acc5`` (accuracies in percent, top-5 capped at the number of classes).

    ``backbone_lr``: the fine-tuned backbone's learning rate, in ``optimizer.lr``'s units (scaled
    with the batch size alike); None gives it ``optimizer.lr``. ``nan_guard``: ``auto``, ``step``
    or ``deferred``, as pretraining's (:mod:`hyperssl.methods.nan_guard`). ``pretrained``: where
    the encoder's weights came from, recorded in the probe's checkpoints (``"pretrained"``) so
    that a resumed probe can refuse another encoder.
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_features: int,
        num_classes: int,
        optimizer_cfg: Any,
        scheduler_cfg: Any,
        finetune: bool = False,
        backbone_lr: float | None = None,
        nan_guard: str = "auto",
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        self.pretrained = pretrained
        self.encoder = encoder
        self.head = nn.Linear(num_features, num_classes)
        self.finetune = finetune
        self.backbone_lr = backbone_lr
        self.optimizer_cfg = optimizer_cfg
        self.scheduler_cfg = scheduler_cfg
        if not finetune:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
        self.val_acc1 = MulticlassAccuracy(num_classes, top_k=1, average="micro")
        self.val_acc5 = MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro")
        self.nan_guard = NonFiniteGuard({LOSS_NAME: f"head {LOSS_NAME!r}"})
        self.state_guard = StateGuard()
        self.nan_guard_mode = nan_guard
        self._nan_check_each_step = True  # resolved from nan_guard in on_fit_start

    def train(self, mode: bool = True) -> LinearProbe:
        """A frozen encoder stays in eval mode, so that its BatchNorm layers neither update their
        statistics nor normalise with batch statistics."""
        super().train(mode)
        if not self.finetune:
            self.encoder.eval()
        return self

    def _set_encoder_mode(self) -> None:
        # A checkpoint's backbone is loaded in eval mode, and Lightning neither calls train() at
        # the start of fit nor after validation (it restores each submodule's mode), so the mode
        # is set here: train for fine-tuning (BatchNorm on batch statistics, updating its running
        # ones), eval for a frozen backbone.
        self.encoder.train(self.finetune)

    def setup(self, stage: str) -> None:
        if stage == "fit":  # before the callbacks' on_fit_start: the model summary counts modes
            self._set_encoder_mode()

    def on_fit_start(self) -> None:
        self._nan_check_each_step = checks_each_step(self.nan_guard_mode, self.device)

    def on_train_epoch_start(self) -> None:
        self._set_encoder_mode()

    def forward(self, images: Tensor) -> Tensor:
        if self.finetune:
            return self.head(self.encoder(images))
        with torch.no_grad():
            features = self.encoder(images)
        return self.head(features)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        inputs, labels = batch[0], batch[1]
        logits = self(inputs)
        loss = F.cross_entropy(logits, labels)
        self.nan_guard.observe({LOSS_NAME: loss}, self.global_step)
        if self._nan_check_each_step:
            self._raise_if_not_finite()
        if is_logging_step(self.trainer, batch_idx):
            acc1 = top_k_accuracy(logits, labels, 1)
            self.log_dict(
                {"train/loss": loss.detach(), "train/acc1": acc1},
                on_step=True,
                on_epoch=False,
                batch_size=len(labels),
            )
        return loss

    def _where_to_go_from_here(self) -> str:
        lrs = "optimizer.lr or linear.backbone_lr" if self.finetune else "optimizer.lr"
        return f"the probe stopped, with no accuracy; try a lower {lrs}"

    def _raise_if_not_finite(self) -> None:
        failure = self.nan_guard.failure()
        if any_process(self, failure is not None):
            failure = (
                failure or f"step {self.global_step}: the loss of another process was non-finite"
            )
            raise NonFiniteLossError(f"{failure}; {self._where_to_go_from_here()}")

    def _raise_if_state_not_finite(self, steps_done: int) -> None:
        failure = self.state_guard.after(self, steps_done)
        if failure is not None:
            raise NonFiniteLossError(f"{failure}; {self._where_to_go_from_here()}")

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        if self._nan_check_each_step:
            self._raise_if_state_not_finite(self.global_step + 1)  # this step is not yet counted

    def _raise_if_a_deferred_check_failed(self) -> None:
        """``nan_guard=deferred``: read the device-side record and check the state where the host
        reads anyway (logging steps, validation, the end of training)."""
        if not self._nan_check_each_step:
            self._raise_if_not_finite()
            self._raise_if_state_not_finite(self.global_step)

    def on_train_start(self) -> None:
        failure = self.state_guard.at_start(self)
        if failure is not None:
            raise NonFiniteLossError(f"{failure}; {self._where_to_go_from_here()}")

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if is_logging_step(self.trainer, batch_idx):
            self._raise_if_a_deferred_check_failed()

    def on_validation_start(self) -> None:
        self._raise_if_a_deferred_check_failed()

    def on_train_end(self) -> None:
        self._raise_if_a_deferred_check_failed()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._raise_if_a_deferred_check_failed()  # never write a NaN or inf
        self._raise_if_state_not_finite(self.global_step)
        checkpoint["pretrained"] = self.pretrained

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        inputs, labels = batch[0], batch[1]
        logits = self(inputs)
        self.val_acc1.update(logits, labels)
        self.val_acc5.update(logits, labels)
        loss = F.cross_entropy(logits, labels)
        self.log("val/loss", loss, on_epoch=True, batch_size=len(labels), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self.log("val/acc1", 100.0 * self.val_acc1.compute(), sync_dist=True)
        self.log("val/acc5", 100.0 * self.val_acc5.compute(), sync_dist=True)
        self.val_acc1.reset()
        self.val_acc5.reset()

    def configure_optimizers(self) -> dict[str, Any]:
        groups = [{"name": "head", "params": list(self.head.parameters())}]
        if self.finetune:
            lr = self.optimizer_cfg.lr if self.backbone_lr is None else self.backbone_lr
            exclude = self.optimizer_cfg.exclude_bias_n_norm
            backbone_groups = split_decay_groups(self.encoder, exclude, "backbone")
            groups += [{**group, "lr": lr} for group in backbone_groups]
        return self.optimization(groups, self.optimizer_cfg, self.scheduler_cfg)


def feature_loader(
    features: Tensor, labels: Tensor, batch_size: int, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    """Batches of precomputed ``(features, labels)`` in :func:`hyperssl.eval.data.sample_order`,
    the order of the images they come from.

    Each batch is one indexing of the tensors (a sampler of index lists, no per-sample fetch and
    collate), which is most of the time of a linear probe on cached features.
    """
    dataset = TensorDataset(features, labels)
    batches = EpochBatches(sample_order(dataset, shuffle, seed), batch_size, drop_last=False)
    return DataLoader(dataset, sampler=batches, batch_size=None)


class EpochBatches(BatchSampler):
    """A BatchSampler that passes Lightning's ``set_epoch`` on to its sampler: as the loader's
    ``sampler`` (one index list per fetch), it is the object Lightning calls."""

    def set_epoch(self, epoch: int) -> None:
        set_epoch = getattr(self.sampler, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
