"""MoCo v2+ (queue of negatives) and MoCo v3 (in-batch keys, predictor)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.heads import InfoNCEQueueHead, LossHead, MoCoV3Head, StepOutput
from hyperssl.layers.mlp import mlp
from hyperssl.layers.projector import build_projector
from hyperssl.methods.momentum import MomentumMethod
from hyperssl.validation import check_queue_size


class MoCoV2Plus(MomentumMethod):
    """MoCo v2 (Chen et al. 2020) with a symmetric loss: online backbone + projector give q, the
    momentum copies give k; negatives come from a FIFO queue of past keys [K, D].

    The queue is a buffer, so it is saved in checkpoints and a resumed run continues with it.
    Keys of every view are enqueued after each step (2 x batch per step for two views).
    """

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "k", "queue", "labels", "model"})

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        queue = F.normalize(
            torch.randn(cfg.method.queue_size, cfg.method.projector.output_dim), dim=1
        )
        self.register_buffer("queue", queue)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self._pending_keys: Tensor | None = None
        self._queue_start = 0

    def build_projector(self) -> nn.Module:
        return build_projector(self.num_features, self.cfg.method.projector)

    def objective(self) -> LossHead:
        return InfoNCEQueueHead(self.cfg.method.temperature, self.geometry)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        return StepOutput(
            labels=labels,
            feats=feats,
            z=[self.projector(f) for f in feats],
            k=self.momentum_keys(views),
            queue=self.queue,
            model=self,
        )

    def on_fit_start(self) -> None:
        super().on_fit_start()
        # Read once (after a resume restored it); steps advance this host copy, so enqueuing
        # never reads the device.
        self._queue_start = int(self.queue_ptr)
        # Validation checked what the config says; the trainer knows the real world size.
        check_queue_size(
            self.cfg.method.queue_size, self.cfg.optimizer.batch_size * self.trainer.world_size
        )

    def after_step(self, out: StepOutput) -> None:
        # ``out`` is gathered: the keys of every rank, in rank order, identical on every rank.
        # Enqueued after backward (on_train_batch_end): the loss's graph still reads the queue.
        self._pending_keys = torch.cat([F.normalize(k.detach().float(), dim=1) for k in out.k[:2]])

    @torch.no_grad()
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        keys, self._pending_keys = self._pending_keys, None
        if keys is not None:
            start = self._queue_start
            self.queue[start : start + len(keys)] = keys.to(self.queue.dtype)
            self._queue_start = (start + len(keys)) % len(self.queue)
            self.queue_ptr.fill_(self._queue_start)
        super().on_train_batch_end(outputs, batch, batch_idx)


class MoCoV3(MomentumMethod):
    """MoCo v3 (Chen et al. ICCV 2021): 3-layer projector and 2-layer predictor (BatchNorm, the
    last one affine-free) on the online branch; keys from the momentum backbone + projector of
    the same batch; loss 2τ(L(p1, k2) + L(p2, k1))."""

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "p", "k", "labels", "model"})

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        output_dim = cfg.method.projector.output_dim
        self.predictor: nn.Module = mlp(
            output_dim, cfg.method.predictor.hidden_dim, output_dim, 2, last_batch_norm=True
        )

    def build_projector(self) -> nn.Module:
        projector = self.cfg.method.projector
        return mlp(
            self.num_features,
            projector.hidden_dim,
            projector.output_dim,
            projector.num_layers,
            last_batch_norm=True,
        )

    def objective(self) -> LossHead:
        return MoCoV3Head(self.cfg.method.temperature, self.geometry)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        return self.embed_with_predictor(self.predictor, views, labels)
