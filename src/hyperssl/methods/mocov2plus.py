"""MoCo v2+ (Chen et al. 2020, MoCo v2 with solo-learn's symmetric loss): a queue of negatives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import ConfigError, require
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.projector import ProjectorConfig
from hyperssl.methods.momentum import MomentumConfig, MomentumMethod, MomentumMethodConfig
from hyperssl.methods.registry import register_method
from hyperssl.validation import known_world_size


def check_queue_size(queue_size: int, global_batch: int) -> None:
    """MoCo's queue takes the keys of two views per step, so it must be a multiple of 2 x batch."""
    keys_per_step = 2 * global_batch
    if queue_size < 1 or queue_size % keys_per_step:
        raise ConfigError(
            "method.queue_size",
            f"{queue_size} is not a multiple of the keys enqueued per step "
            f"(2 views x global batch {global_batch} = {keys_per_step})",
            f"a multiple of {keys_per_step}",
        )


@dataclass
class MoCoV2PlusConfig(MomentumMethodConfig):
    """A queue of 65536 negatives, momentum 0.99 -> 0.999, projector 2048-256, temperature 0.2."""

    temperature: float = 0.2
    queue_size: int = 65536
    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(2048, 256))
    momentum: MomentumConfig = field(default_factory=lambda: MomentumConfig(0.99, 0.999))

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(self.temperature > 0, f"{key}.temperature", self.temperature, "> 0")
        if cfg is not None:
            check_queue_size(self.queue_size, cfg.optimizer.batch_size * known_world_size(cfg))


@register_method("mocov2plus", MoCoV2PlusConfig)
class MoCoV2Plus(MomentumMethod):
    """Online backbone + projector give q, the momentum copies give k; negatives come from a
    FIFO queue of past keys [K, D].

    The queue is a buffer, so it is saved in checkpoints and a resumed run continues with it.
    The keys of the first two views are enqueued after each step (2 x global batch per step).
    """

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "k", "queue", "labels", "model"})
    uses_predictor: ClassVar[bool] = False

    def build(self) -> None:
        super().build()
        method = self.cfg.method
        queue = F.normalize(torch.randn(method.queue_size, method.projector.output_dim), dim=1)
        self.register_buffer("queue", queue)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self._pending_keys: Tensor | None = None
        self._queue_start = 0

    def objective(self) -> LossHead:
        return self.objective_head("info_nce_queue", temperature=self.cfg.method.temperature)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        out = super().embed(views, labels)
        out.queue = self.queue
        return out

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
