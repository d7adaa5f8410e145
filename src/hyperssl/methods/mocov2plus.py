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
    """Each view's queue takes that view's keys of the global batch per step, so its size must be
    a multiple of the global batch (solo-learn asserts the same)."""
    if queue_size < 1 or queue_size % global_batch:
        raise ConfigError(
            "method.queue_size",
            f"{queue_size} is not a multiple of the keys each view enqueues per step "
            f"(the global batch, {global_batch})",
            f"a multiple of {global_batch}",
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
    """Online backbone + projector give q, the momentum copies give k; the negatives come from
    one FIFO queue of past keys per view, [2, K, D], as in solo-learn and the GCL fork: the
    queries of view 1 meet the keys of view 2 and the queue of view 2's past keys, and the
    other way round (:class:`hyperssl.heads.info_nce_queue.InfoNCEQueueHead`).

    The queues are a buffer, so they are saved in checkpoints and a resumed run continues with
    them. After each step every view's keys of the global batch (gathered over processes) are
    written at the shared pointer, which then moves by the global batch.
    """

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "k", "queue", "labels", "model"})
    uses_predictor: ClassVar[bool] = False
    queued_views: ClassVar[int] = 2

    def build(self) -> None:
        super().build()
        method = self.cfg.method
        shape = (self.queued_views, method.queue_size, method.projector.output_dim)
        self.register_buffer("queue", F.normalize(torch.randn(shape), dim=2))
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

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Runs before the weights load: name the cause instead of a size-mismatch traceback.
        saved = checkpoint.get("state_dict", {}).get("queue")
        if saved is not None and saved.shape != self.queue.shape:
            raise ConfigError(
                "ckpt_path",
                f"its MoCo v2+ queue has shape {list(saved.shape)} (one shared queue, written "
                "before hyperssl kept one queue per view) but this run needs "
                f"{list(self.queue.shape)}",
                "a checkpoint of a MoCo v2+ run with the same queue_size and projector",
            )
        super().on_load_checkpoint(checkpoint)

    def after_step(self, out: StepOutput) -> None:
        # ``out`` is gathered: the keys of every rank, in rank order, identical on every rank.
        # Enqueued after backward (on_train_batch_end): the loss's graph still reads the queue.
        keys = [k.detach().to(self.queue.dtype) for k in out.k[: self.queued_views]]
        self._pending_keys = F.normalize(torch.stack(keys), dim=2)

    @torch.no_grad()
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        keys, self._pending_keys = self._pending_keys, None
        if keys is not None:
            start, batch = self._queue_start, keys.shape[1]
            self.queue[:, start : start + batch] = keys
            self._queue_start = (start + batch) % self.queue.shape[1]
            self.queue_ptr.fill_(self._queue_start)
        super().on_train_batch_end(outputs, batch, batch_idx)
