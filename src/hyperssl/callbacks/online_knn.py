"""Online weighted k-NN accuracy on the validation set, from a bounded bank of training features.

The features come from the forward passes the steps already make: a forward hook on the backbone
keeps the first output of each training step (the first view's rows) and of each validation step.
No extra forward pass is run, and the bank keeps only the newest ``max_bank`` training features.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from hyperssl.eval.knn import weighted_knn


class FeatureBank:
    """The newest ``capacity`` labelled rows of (features [n, F], labels [n]) blocks.

    Blocks are kept as they come, unlabelled rows (label -1) included, and compacted (unlabelled
    rows dropped, oldest rows trimmed) only when twice the capacity is held or the rows are read:
    selecting rows by a label mask reads its count on the host, a synchronisation a training step
    must not pay.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._blocks: list[tuple[Tensor, Tensor]] = []
        self._size = 0  # rows held, labelled or not

    def __len__(self) -> int:
        """Rows held (an upper bound on the labelled rows until the next compaction)."""
        return self._size

    def clear(self) -> None:
        self._blocks.clear()
        self._size = 0

    def add(self, features: Tensor, labels: Tensor) -> None:
        if len(labels) == 0:
            return
        self._blocks.append((features, labels))
        self._size += len(labels)
        if self._size >= 2 * self.capacity:
            self._compact()

    def _compact(self) -> None:
        features, labels = (torch.cat(parts) for parts in zip(*self._blocks, strict=True))
        keep = labels >= 0
        features, labels = features[keep][-self.capacity :], labels[keep][-self.capacity :]
        self._blocks = [(features, labels)] if len(labels) else []
        self._size = len(labels)

    def tensors(self) -> tuple[Tensor, Tensor] | None:
        """The labelled rows, oldest first; None when there are none."""
        if self._blocks:
            self._compact()
        return self._blocks[0] if self._blocks else None


class OnlineKNN(pl.Callback):
    """Logs ``val/knn_acc1`` and ``val/knn_acc5`` every ``every_n_epochs`` epochs (and at the
    last), voting with the training features of the same epoch as ``main_knn.py`` votes (cosine,
    :func:`hyperssl.eval.knn.weighted_knn`)."""

    def __init__(
        self, every_n_epochs: int = 1, k: int = 20, temperature: float = 0.07, max_bank: int = 16384
    ) -> None:
        self.every_n_epochs = every_n_epochs
        self.k = k
        self.temperature = temperature
        self.bank = FeatureBank(max_bank)
        self._val: list[tuple[Tensor, Tensor]] = []
        self._capture = False
        self._captured: Tensor | None = None
        self._handle: RemovableHandle | None = None
        self._active = False

    # ------------------------------------------------------------------ capture by forward hook
    def _hook(self, module: nn.Module, inputs: Any, output: Tensor) -> None:
        if self._capture:
            self._captured = output.detach()
            self._capture = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._handle is None:
            self._handle = pl_module.backbone.register_forward_hook(self._hook)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.bank.clear()
        self._val = []

    def _take(self, labels: Tensor) -> tuple[Tensor, Tensor] | None:
        """The captured rows of the batch's first view and their labels (-1: unlabelled)."""
        captured, self._captured, self._capture = self._captured, None, False
        if captured is None:
            return None
        return captured[: len(labels)].float(), labels.to(captured.device)

    # ------------------------------------------------------------------------------ training
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        self._active = epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs
        self.bank.clear()

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._capture, self._captured = self._active, None

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        taken = self._take(batch[1])
        if taken is not None:
            self.bank.add(*taken)

    # ---------------------------------------------------------------------------- validation
    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._val = []

    def on_validation_batch_start(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        wanted = self._active and len(self.bank) > 0 and not trainer.sanity_checking
        self._capture, self._captured = wanted, None

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        taken = self._take(batch[1])
        if taken is not None:
            self._val.append(taken)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._val or len(self.bank) == 0:
            return
        val_features = torch.cat([features for features, _ in self._val])
        val_labels = torch.cat([labels for _, labels in self._val])
        self._val = []
        labelled = val_labels >= 0
        val_features, val_labels = val_features[labelled], val_labels[labelled]
        bank = self.bank.tensors()
        if bank is None or len(val_labels) == 0:
            return
        bank_features, bank_labels = bank
        top1, top5 = weighted_knn(
            bank_features,
            bank_labels,
            val_features,
            val_labels,
            self._num_classes(pl_module, bank_labels, val_labels),
            min(self.k, len(bank_labels)),
            self.temperature,
        )
        # Each process votes with its own bank; no cross-process reduction, so a process that
        # saw no labelled batch cannot leave the others waiting.
        pl_module.log_dict({"val/knn_acc1": top1, "val/knn_acc5": top5})

    @staticmethod
    def _num_classes(pl_module: pl.LightningModule, *labels: Tensor) -> int:
        known = getattr(pl_module, "num_classes", None)
        return known if isinstance(known, int) else 1 + max(int(t.max()) for t in labels)
