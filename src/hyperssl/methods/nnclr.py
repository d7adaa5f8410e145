"""NNCLR (Dwibedi et al., ICCV 2021): a view's nearest neighbour in a support set of past
embeddings is the positive of the other view's prediction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import require
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.projector import (
    PredictorConfig,
    ProjectorConfig,
    build_predictor,
    build_projector,
)
from hyperssl.layers.queue import FeatureQueue, check_queue_size
from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import register_method
from hyperssl.validation import known_world_size


@dataclass
class NNCLRConfig(MethodConfig):
    """solo-learn's CIFAR recipe (scripts/pretrain/cifar/nnclr.yaml, solo/methods/nnclr.py):
    temperature τ 0.2, a support set of 65536 embeddings, a 3-layer projector 2048-256 ending in
    an affine BatchNorm, a predictor 256-4096-256. The paper's ImageNet recipe: τ 0.1, |Q| 98304."""

    temperature: float = 0.2
    queue_size: int = 65536
    projector: ProjectorConfig = field(
        default_factory=lambda: ProjectorConfig(
            2048, 256, 3, last_batch_norm=True, last_batch_norm_affine=True
        )
    )
    predictor: PredictorConfig = field(default_factory=lambda: PredictorConfig(4096))

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.predictor.validate(cfg, f"{key}.predictor")
        require(self.temperature > 0, f"{key}.temperature", self.temperature, "> 0")
        if cfg is not None:
            check_queue_size(
                self.queue_size,
                cfg.optimizer.batch_size * known_world_size(cfg),
                f"{key}.queue_size",
            )


@register_method("nnclr", NNCLRConfig)
class NNCLR(BaseMethod):
    """Backbone -> projector gives z, predictor(z) gives p, per view. The support set Q is a FIFO
    queue of the first view's L2-normalised z of past global batches (as solo-learn enqueues z1,
    gathered over processes; random unit rows until written over, as in solo-learn); the
    objective (:class:`hyperssl.heads.nnclr.NNCLRHead`) takes NN(z1, Q) as the positive of p2
    and NN(z2, Q) as that of p1, against the other samples' predictions.

    Follows solo-learn's code: its loss is the paper's Eq. 3 averaged over the two view orders;
    the paper's implementation details (Sec. 3.2) also add the term with the softmax over the
    batch's neighbours instead of over its predictions, and report that it does not change the
    results; solo-learn leaves it out. The support set is a buffer: checkpoints hold it and a
    resumed run continues with it.
    """

    produces: ClassVar[frozenset[str]] = frozenset(
        {"feats", "z", "p", "labels", "model", "support_set"}
    )

    def build(self) -> None:
        method = self.cfg.method
        self.projector: nn.Module = build_projector(self.num_features, method.projector)
        self.predictor: nn.Module = build_predictor(method.projector.output_dim, method.predictor)
        self.support_set = FeatureQueue(1, method.queue_size, method.projector.output_dim)

    def objective(self) -> LossHead:
        return self.objective_head("nnclr", temperature=self.cfg.method.temperature)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [self.projector(f) for f in feats]
        return StepOutput(
            labels=labels,
            feats=feats,
            z=z,
            p=[self.predictor(v) for v in z],
            model=self,
            state={"support_set": self.support_set.items[0]},
        )

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.support_set.on_fit_start(self.cfg.optimizer.batch_size * self.trainer.world_size)

    def after_step(self, out: StepOutput) -> None:
        # ``out`` is gathered, so every process stages the same rows and holds the same queue.
        self.support_set.stage(out.z[:1])

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # After backward: the loss's graph read the queue, so it is written only now.
        self.support_set.push_staged()
        super().on_train_batch_end(outputs, batch, batch_idx)
