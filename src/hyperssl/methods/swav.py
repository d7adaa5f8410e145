"""SwAV (Caron et al., NeurIPS 2020): online clustering onto prototypes, codes from Sinkhorn-Knopp
predicted across views; multi-crop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.errors import require
from hyperssl.geometry import similarity
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.projector import ProjectorConfig, build_projector
from hyperssl.layers.queue import FeatureQueue, check_queue_size
from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import register_method
from hyperssl.validation import known_world_size


@dataclass
class SwAVConfig(MethodConfig):
    """solo-learn's CIFAR recipe (scripts/pretrain/cifar/swav.yaml and the defaults of
    solo/methods/swav.py): projector 2048-128 (Linear-BN-ReLU-Linear), K = 3000 prototypes,
    τ = 0.1, Sinkhorn-Knopp with ε = 0.05 and 3 iterations, a queue of 3840 z per large crop used
    from epoch 50, prototypes frozen for the first 2 epochs. ``queue_size=0``: no queue.

    Keep ``num_prototypes`` above ``projector.output_dim``: with fewer prototypes than
    dimensions every z can sit orthogonal to all of them, where all scores are equal, the codes
    and predictions uniform and the loss log K, a collapsed fixed point (K = 50, D = 128 on the
    digits fell into it within two epochs)."""

    projector: ProjectorConfig = field(default_factory=lambda: ProjectorConfig(2048, 128))
    num_prototypes: int = 3000
    temperature: float = 0.1
    sk_epsilon: float = 0.05
    sk_iters: int = 3
    queue_size: int = 3840
    epoch_queue_starts: int = 50
    freeze_prototypes_epochs: int = 2

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(self.num_prototypes >= 1, f"{key}.num_prototypes", self.num_prototypes, ">= 1")
        require(self.temperature > 0, f"{key}.temperature", self.temperature, "> 0")
        require(self.sk_epsilon > 0, f"{key}.sk_epsilon", self.sk_epsilon, "> 0")
        require(self.sk_iters >= 1, f"{key}.sk_iters", self.sk_iters, ">= 1")
        require(self.queue_size >= 0, f"{key}.queue_size", self.queue_size, ">= 0 (0: no queue)")
        require(
            self.epoch_queue_starts >= 0,
            f"{key}.epoch_queue_starts",
            self.epoch_queue_starts,
            ">= 0",
        )
        require(
            self.freeze_prototypes_epochs >= 0,
            f"{key}.freeze_prototypes_epochs",
            self.freeze_prototypes_epochs,
            ">= 0",
        )
        if cfg is not None and self.queue_size > 0:
            check_queue_size(
                self.queue_size,
                cfg.optimizer.batch_size * known_world_size(cfg),
                f"{key}.queue_size",
            )


@register_method("swav", SwAVConfig)
class SwAV(BaseMethod):
    """Backbone -> projector -> L2-normalised z per view; the scores of z against K unit
    prototypes c_k (a bias-free linear layer) in the run's geometry, s(z, c_k) (with the cosine
    exactly z·c_k, the paper's); the objective (:class:`hyperssl.heads.swav.SwAVHead`) predicts
    the Sinkhorn-Knopp codes of each large crop from every other view.

    As in the official code (facebookresearch/swav, main_swav.py) the prototypes are
    re-normalised in place, without gradient, at the start of every training batch; solo-learn
    reparametrises them with ``weight_norm`` (g fixed at 1) instead, which normalises them in the
    forward pass and projects their gradient onto the sphere's tangent space. The two agree on
    the forward pass (unit prototypes); their updates differ by the radial part of the gradient,
    which the next normalisation removes.

    Queue: one :class:`hyperssl.layers.queue.FeatureQueue` of ``queue_size`` past z per large crop,
    written every step with the z of the global batch (as solo-learn, which fills its queue from
    the first step), whose scores join Sinkhorn-Knopp from epoch ``epoch_queue_starts`` on once
    it is full (the official code's condition: no start value left; solo-learn's queue starts at
    zero and is full by then at its settings). solo-learn keeps ``queue_size / world_size`` local
    z per process and all-reduces the Sinkhorn sums; one queue of gathered z, identical on every
    process, gives the same sums. Prototypes get no gradient during the first
    ``freeze_prototypes_epochs`` epochs (their gradients are dropped after backward, as
    solo-learn does; the official code counts iterations).
    """

    produces: ClassVar[frozenset[str]] = frozenset(
        {"feats", "z", "labels", "model", "prototype_scores"}
    )
    multi_crop: ClassVar[bool] = True  # the paper's Sec. 3.2

    def build(self) -> None:
        method = self.cfg.method
        dim = method.projector.output_dim
        self.projector: nn.Module = build_projector(self.num_features, method.projector)
        self.prototypes = nn.Linear(dim, method.num_prototypes, bias=False)
        self.normalize_prototypes()
        self.queue: FeatureQueue | None = None
        if method.queue_size > 0:
            views = self.num_large_views or sum(p.num_crops for p in self.cfg.augmentations)
            self.queue = FeatureQueue(views, method.queue_size, dim)

    def objective(self) -> LossHead:
        method = self.cfg.method
        return self.objective_head(
            "swav",
            temperature=method.temperature,
            sk_epsilon=method.sk_epsilon,
            sk_iters=method.sk_iters,
        )

    @torch.no_grad()
    def normalize_prototypes(self) -> None:
        """Project the prototypes back onto the unit sphere (rows of the layer's weight)."""
        weight = self.prototypes.weight
        weight.copy_(F.normalize(weight, dim=1))

    def queue_in_use(self) -> bool:
        """Whether this step's codes include the queue: from ``epoch_queue_starts`` on, once no
        random start row is left (host-side, no device read)."""
        return (
            self.queue is not None
            and self.current_epoch >= self.cfg.method.epoch_queue_starts
            and self.queue.is_full()
        )

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [F.normalize(self.projector(f), dim=1) for f in feats]
        prototypes = self.prototypes.weight
        scores = [similarity(v, prototypes, self.geometry) for v in z]
        state: dict[str, Tensor] = {}
        if self.queue_in_use():
            with torch.no_grad():  # the codes are targets
                state["queue_scores"] = torch.stack(
                    [similarity(items, prototypes, self.geometry) for items in self.queue.items]
                )
        return StepOutput(
            labels=labels,
            feats=feats,
            z=z,
            model=self,
            embeddings={"prototype_scores": scores},
            state=state,
        )

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if self.queue is not None:
            self.queue.on_fit_start(self.cfg.optimizer.batch_size * self.trainer.world_size)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.normalize_prototypes()

    def after_step(self, out: StepOutput) -> None:
        # ``out`` is gathered: every process stages the same rows.
        if self.queue is not None:
            self.queue.stage(out.large(out.z))

    def on_after_backward(self) -> None:
        if self.current_epoch < self.cfg.method.freeze_prototypes_epochs:
            self.prototypes.weight.grad = None

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # After backward: the loss's graph read the queue.
        if self.queue is not None:
            self.queue.push_staged()
        super().on_train_batch_end(outputs, batch, batch_idx)
