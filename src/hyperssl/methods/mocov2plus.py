"""MoCo v2+ (Chen et al. 2020, MoCo v2 with solo-learn's symmetric loss): a queue of negatives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import ConfigError, require
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.projector import ProjectorConfig
from hyperssl.layers.queue import FeatureQueue, check_queue_size
from hyperssl.methods.momentum import MomentumConfig, MomentumMethod, MomentumMethodConfig
from hyperssl.methods.registry import register_method
from hyperssl.validation import known_world_size


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

    The queues are a :class:`hyperssl.layers.queue.FeatureQueue`: saved in checkpoints, and
    after each step every view's keys of the global batch (gathered over processes) are written
    at the shared pointer, which then moves by the global batch.
    """

    produces: ClassVar[frozenset[str]] = frozenset({"feats", "z", "k", "queue", "labels", "model"})
    uses_predictor: ClassVar[bool] = False
    queued_views: ClassVar[int] = 2

    def build(self) -> None:
        super().build()
        method = self.cfg.method
        self.queue = FeatureQueue(self.queued_views, method.queue_size, method.projector.output_dim)

    def objective(self) -> LossHead:
        return self.objective_head("info_nce_queue", temperature=self.cfg.method.temperature)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        out = super().embed(views, labels)
        out.queue = self.queue.items
        return out

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.queue.on_fit_start(self.cfg.optimizer.batch_size * self.trainer.world_size)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Runs before the weights load. Checkpoints written before FeatureQueue hold the queues
        # as buffers ``queue`` and ``queue_ptr``: renamed here (MoCo never reads ``written``,
        # which they lack); a queue of another shape is named instead of a size-mismatch
        # traceback.
        state = checkpoint.get("state_dict", {})
        saved = state.get("queue")
        if saved is not None:
            if saved.shape != self.queue.items.shape:
                raise ConfigError(
                    "ckpt_path",
                    f"its MoCo v2+ queue has shape {list(saved.shape)} (one shared queue, "
                    "written before hyperssl kept one queue per view) but this run needs "
                    f"{list(self.queue.items.shape)}",
                    "a checkpoint of a MoCo v2+ run with the same queue_size and projector",
                )
            state["queue.items"] = state.pop("queue")
            state["queue.ptr"] = state.pop("queue_ptr")
            state["queue.written"] = torch.tensor(self.queue.size)
        super().on_load_checkpoint(checkpoint)

    def after_step(self, out: StepOutput) -> None:
        # ``out`` is gathered: the keys of every rank, in rank order, identical on every rank.
        self.queue.stage(out.k[: self.queued_views])

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.queue.push_staged()
        super().on_train_batch_end(outputs, batch, batch_idx)
