"""The linear probe: a linear classifier on a frozen (or fine-tuned) pretrained backbone.

With a frozen backbone the backbone stays in eval mode (BatchNorm statistics untouched) and runs
without gradients. Given precomputed features, the encoder is ``nn.Identity`` and the same module
trains the head on a :class:`~torch.utils.data.TensorDataset`.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, TensorDataset
from torchmetrics.classification import MulticlassAccuracy

from hyperssl.eval.data import sample_order
from hyperssl.eval.metrics import top_k_accuracy
from hyperssl.optim import ScheduledOptimization
from hyperssl.step_logging import is_logging_step


class LinearProbe(ScheduledOptimization, pl.LightningModule):
    """``head(encoder(x))``; logs ``train/loss``, ``train/acc1`` and ``val/loss``, ``val/acc1``,
    ``val/acc5`` (accuracies in percent, top-5 capped at the number of classes)."""

    def __init__(
        self,
        encoder: nn.Module,
        num_features: int,
        num_classes: int,
        optimizer_cfg: Any,
        scheduler_cfg: Any,
        finetune: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(num_features, num_classes)
        self.finetune = finetune
        self.optimizer_cfg = optimizer_cfg
        self.scheduler_cfg = scheduler_cfg
        if not finetune:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
        self.val_acc1 = MulticlassAccuracy(num_classes, top_k=1, average="micro")
        self.val_acc5 = MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro")

    def train(self, mode: bool = True) -> LinearProbe:
        """A frozen encoder stays in eval mode, so that its BatchNorm layers neither update their
        statistics nor normalise with batch statistics."""
        super().train(mode)
        if not self.finetune:
            self.encoder.eval()
        return self

    def on_train_epoch_start(self) -> None:
        # Lightning restores each submodule's mode after validation rather than calling train().
        if not self.finetune:
            self.encoder.eval()

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
        if is_logging_step(self.trainer, batch_idx):
            acc1 = top_k_accuracy(logits, labels, 1)
            self.log_dict(
                {"train/loss": loss.detach(), "train/acc1": acc1},
                on_step=True,
                on_epoch=False,
                batch_size=len(labels),
            )
        return loss

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
            groups.append({"name": "backbone", "params": list(self.encoder.parameters())})
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
    batches = BatchSampler(sample_order(dataset, shuffle, seed), batch_size, drop_last=False)
    return DataLoader(dataset, sampler=batches, batch_size=None)
