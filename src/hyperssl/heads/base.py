"""What a training step produces, and the loss heads that read it."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.distributed import gather
from hyperssl.errors import require
from hyperssl.registry import PartConfig


@dataclass
class StepOutput:
    """The named embeddings of one step; list fields hold one tensor per view.

    feats:  backbone features          [B, F] per view
    z:      projector outputs          [B, D] per view
    p:      predictor outputs          [B, D] per view (BYOL, MoCo v3)
    k:      momentum-encoder outputs   [B, D] per view (MoCo, BYOL), no gradient
    logits: classifier outputs         [B, C] (supervised)
    labels: [B] (-1 for unlabelled samples)
    queue:  MoCo's queues of past keys [V, K, D], one per view (see :meth:`negatives_of`)
    model:  the module whose layers weight-based heads (MHE) regularise
    embeddings: a method's further per-view, per-sample outputs by name, [B, *] per view,
            gathered like ``z`` (SwAV's prototype scores, DINO's student and teacher logits)
    state:  a method's running state that its objective reads by name (DINO's center, SwAV's
            queue), already the same on every process: not gathered
    num_large_views: with multi-crop, the first ``num_large_views`` views are the large (global)
            crops and the rest the small ones (:meth:`large`); None when every view is large

    A head names what it reads in ``inputs``: field names, or keys of ``embeddings`` and
    ``state``; a method declares what it fills in ``produces``. A new method with new outputs
    puts them in the two dictionaries, so this class does not change.
    """

    labels: Tensor
    feats: list[Tensor] = field(default_factory=list)
    z: list[Tensor] = field(default_factory=list)
    p: list[Tensor] = field(default_factory=list)
    k: list[Tensor] = field(default_factory=list)
    logits: Tensor | None = None
    queue: Tensor | None = None
    model: nn.Module | None = None
    embeddings: dict[str, list[Tensor]] = field(default_factory=dict)
    state: dict[str, Tensor] = field(default_factory=dict)
    num_large_views: int | None = None

    def gathered(self) -> StepOutput:
        """The same step with every batch-level field gathered over processes (rank order).

        Backbone features stay local: only the online probe reads them, per sample.
        """

        def many(tensors: list[Tensor]) -> list[Tensor]:
            return [gather(t) for t in tensors]

        return StepOutput(
            labels=gather(self.labels),
            feats=self.feats,
            z=many(self.z),
            p=many(self.p),
            k=many(self.k),
            logits=gather(self.logits) if self.logits is not None else None,
            queue=self.queue,
            model=self.model,
            embeddings={name: many(tensors) for name, tensors in self.embeddings.items()},
            state=self.state,
            num_large_views=self.num_large_views,
        )

    def large(self, tensors: list[Tensor]) -> list[Tensor]:
        """The entries of a per-view list that belong to the large crops (all without
        multi-crop)."""
        return tensors if self.num_large_views is None else tensors[: self.num_large_views]

    def negatives_of(self, view: int) -> Tensor:
        """The queue of negatives of view ``view``'s queries (0 or 1): the queue of the other
        view's past keys, whose current keys are its positives: [K, D]."""
        if self.queue is None:
            raise ValueError("this step has no queue")
        return self.queue[1 - view]

    def provides(self) -> set[str]:
        """The names of the fields that hold something."""
        present = {"labels"}
        for name in ("feats", "z", "p", "k"):
            if getattr(self, name):
                present.add(name)
        for name in ("logits", "queue", "model"):
            if getattr(self, name) is not None:
                present.add(name)
        return present | set(self.embeddings) | set(self.state)


def cross_view_terms(
    loss: Callable[[Tensor, Tensor], Tensor], predictions: list[Tensor], targets: list[Tensor]
) -> Tensor:
    """``loss(predictions[i], targets[j])`` for every ordered pair of views i ≠ j, stacked:
    [V(V-1)] (the symmetrised regression objectives of BYOL and SimSiam)."""
    return torch.stack(
        [loss(p, t) for i, p in enumerate(predictions) for j, t in enumerate(targets) if i != j]
    )


@dataclass
class HeadConfig(PartConfig):
    """Keys of every head: its weight in the objective (``heads.<name>.weight``)."""

    weight: float = 1.0


@dataclass
class TemperatureHeadConfig(HeadConfig):
    """Keys of the contrastive heads: the softmax temperature τ of their logits."""

    temperature: float = 0.2

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.temperature > 0, f"{key}.temperature", self.temperature, "> 0")


class LossHead(nn.Module, abc.ABC):
    """A weighted loss term read off a :class:`StepOutput`.

    Subclasses set ``inputs`` (the StepOutput fields they read) and implement ``forward``
    returning the unweighted scalar in the losses' precision (float32, float64 when the fields it
    reads are float64); the method multiplies it by ``weight`` and logs it as ``train/<name>``.
    A head is built from its schema object (``config``, the registered dataclass with its
    hyperparameters) and the run's geometry, which the heads comparing points on the sphere use
    and the others ignore.
    """

    inputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, config: HeadConfig, geometry: Any = "cosine") -> None:
        super().__init__()
        self.name = name
        self.config = config
        self.weight = config.weight
        self.geometry = geometry
        # Named parts of the last value, detached, which a head with several terms (VICReg's
        # invariance, variance, covariance) fills in forward; logged as train/<name>_<part>.
        self.last_terms: dict[str, Tensor] = {}

    @abc.abstractmethod
    def forward(self, out: StepOutput) -> Tensor:
        """The unweighted loss term, a scalar: float32, float64 for float64 inputs."""
