"""DINO (Caron et al., ICCV 2021): self-distillation from a momentum teacher, with centering and
sharpening instead of negatives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads import LossHead, StepOutput
from hyperssl.layers.dino_head import DINOHead
from hyperssl.layers.projector import ProjectorConfig
from hyperssl.losses.dino import teacher_temperature_at, updated_center
from hyperssl.methods.momentum import MomentumConfig, MomentumMethod, MomentumMethodConfig
from hyperssl.methods.registry import register_method


@dataclass
class DINOConfig(MomentumMethodConfig):
    """solo-learn's CIFAR recipe (vturrisi/solo-learn@9187ea3, scripts/pretrain/cifar/dino.yaml
    and the defaults of solo/methods/dino.py): head 2048-2048-256 (3 layers, GELU, no BatchNorm:
    ``use_bn_in_head`` defaults to False there, as in the official code), K = 4096 prototypes
    with g fixed to 1, τ_s = 0.1, τ_t = 0.07 with no warm-up (solo-learn's default
    ``warmup_teacher_temperature_epochs`` is 0; the paper warms up from 0.04 over 30 epochs),
    center momentum m = 0.9, the last layer frozen during the first epoch, no gradient clipping,
    momentum 0.9995 -> 1.0.

    ``projector`` is the head's MLP: ``output_dim`` is the bottleneck (256), which is
    L2-normalised before the prototypes.
    """

    projector: ProjectorConfig = field(
        default_factory=lambda: ProjectorConfig(2048, 256, 3, hidden_batch_norm=False)
    )
    momentum: MomentumConfig = field(default_factory=lambda: MomentumConfig(0.9995, 1.0))
    num_prototypes: int = 4096  # K, the output dimension
    norm_last_layer: bool = True  # g fixed to 1
    student_temperature: float = 0.1  # τ_s
    teacher_temperature: float = 0.07  # τ_t after the warm-up
    warmup_teacher_temperature: float = 0.04  # τ_t at epoch 0
    warmup_teacher_temperature_epochs: int = 0
    center_momentum: float = 0.9  # m
    freeze_last_layer: int = 1  # epochs during which the prototypes get no update
    clip_grad: float = 0.0  # per-parameter gradient norm bound of the student; 0 = off

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(
            not self.projector.spherize and not self.projector.last_batch_norm,
            f"{key}.projector",
            f"spherize={self.projector.spherize}, last_batch_norm={self.projector.last_batch_norm}",
            "spherize=false and last_batch_norm=false (the DINO head normalises its bottleneck)",
        )
        require(self.num_prototypes >= 1, f"{key}.num_prototypes", self.num_prototypes, ">= 1")
        for name in ("student_temperature", "teacher_temperature", "warmup_teacher_temperature"):
            require(getattr(self, name) > 0, f"{key}.{name}", getattr(self, name), "> 0")
        require(
            self.warmup_teacher_temperature_epochs >= 0,
            f"{key}.warmup_teacher_temperature_epochs",
            self.warmup_teacher_temperature_epochs,
            ">= 0",
        )
        require(
            0 <= self.center_momentum <= 1,
            f"{key}.center_momentum",
            self.center_momentum,
            "in [0, 1]",
        )
        require(
            self.freeze_last_layer >= 0,
            f"{key}.freeze_last_layer",
            self.freeze_last_layer,
            ">= 0 epochs",
        )
        require(self.clip_grad >= 0, f"{key}.clip_grad", self.clip_grad, ">= 0 (0: off)")


@register_method("dino", DINOConfig)
class DINO(MomentumMethod):
    """Student = backbone + DINO head (``projector``, :class:`hyperssl.layers.dino_head.DINOHead`)
    on every view; teacher = their momentum copies on the large crops only, without gradient.
    The objective (:class:`hyperssl.heads.dino.DINOLossHead`) matches the student's prototype
    scores to the teacher's, centred by the buffer ``center`` and sharpened by τ_t.

    State, all restored exactly on resume: ``center`` [K] (updated after every step from the
    gathered teacher scores, so it is the global batch's mean under DDP), ``teacher_temperature``
    (a function of the epoch, set at each epoch's start) and the momentum copies.

    ``z`` is the head's bottleneck (before its normalisation), for the added heads
    (``heads=[uniformity]``).
    """

    produces: ClassVar[frozenset[str]] = frozenset(
        {
            "feats",
            "z",
            "labels",
            "model",
            "student_logits",
            "teacher_logits",
            "center",
            "teacher_temperature",
        }
    )
    uses_predictor: ClassVar[bool] = False
    multi_crop: ClassVar[bool] = True

    def build_projector(self) -> DINOHead:
        method = self.cfg.method
        return DINOHead(
            self.num_features,
            method.projector,
            method.num_prototypes,
            method.norm_last_layer,
            self.geometry,
        )

    def build(self) -> None:
        super().build()
        method = self.cfg.method
        self.register_buffer("center", torch.zeros(method.num_prototypes))
        self.register_buffer("teacher_temperature", torch.tensor(self._teacher_temperature(0)))

    def _teacher_temperature(self, epoch: int) -> float:
        method = self.cfg.method
        return teacher_temperature_at(
            epoch,
            method.warmup_teacher_temperature,
            method.teacher_temperature,
            method.warmup_teacher_temperature_epochs,
        )

    def objective(self) -> LossHead:
        return self.objective_head("dino", student_temperature=self.cfg.method.student_temperature)

    def embed(self, views: list[Tensor], labels: Tensor) -> StepOutput:
        feats = self.encode(views)
        z = [self.projector.bottleneck(f) for f in feats]
        large = views if self.num_large_views is None else views[: self.num_large_views]
        return StepOutput(
            labels=labels,
            feats=feats,
            z=z,
            model=self,
            embeddings={
                "student_logits": [self.projector.last_layer(v) for v in z],
                "teacher_logits": self.momentum_keys(large),
            },
            state={"center": self.center, "teacher_temperature": self.teacher_temperature},
        )

    @torch.no_grad()
    def after_step(self, out: StepOutput) -> None:
        # After the loss read the old center (the reference updates it after the loss too). ``out``
        # is gathered, so the mean is over the global batch.
        center = updated_center(
            self.center, out.embeddings["teacher_logits"], self.cfg.method.center_momentum
        )
        self.center.copy_(center)

    def on_train_epoch_start(self) -> None:
        # A function of the epoch, so a resumed run continues on the same schedule.
        temperature = self._teacher_temperature(self.current_epoch)
        self.teacher_temperature.fill_(temperature)
        self.log("train/teacher_temperature", temperature, on_step=False, on_epoch=True)

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        # Here rather than in on_after_backward (the reference's hook): once per optimizer step
        # under gradient accumulation, and after mixed precision has unscaled the gradients, so
        # clip_grad bounds the true norms.
        super().on_before_optimizer_step(optimizer)
        if self.cfg.method.clip_grad > 0:
            self._clip_gradients(self.cfg.method.clip_grad)
        if self.current_epoch < self.cfg.method.freeze_last_layer:
            # None, not zero, as the reference: the optimizer then skips the prototypes
            # entirely, weight decay and momentum included.
            for parameter in self.projector.last_layer.parameters():
                parameter.grad = None

    @torch.no_grad()
    def _clip_gradients(self, clip: float) -> None:
        """Scale each student parameter's gradient to norm at most ``clip``, parameter by
        parameter: g ← g · min(1, clip / (||g|| + 1e-6)) (the official code's
        ``clip_gradients(student, clip)``; solo-learn clips the backbone's only). Computed on
        the device without reading the norms back."""
        grads = [
            p.grad
            for module in (self.backbone, self.projector)
            for p in module.parameters()
            if p.grad is not None
        ]
        if not grads:
            return
        for grad, norm in zip(grads, torch._foreach_norm(grads), strict=True):
            grad.mul_((clip / (norm + 1e-6)).clamp(max=1.0))
