"""The bare side: the framework's training step written as a plain PyTorch loop.

Same work as the method's ``training_step`` + optimizer step: the same backbone, projector and
predictor modules (built by hyperssl's backbone registry and layers from the same config, so the
compute is identical), a linear probe on detached features with cross-entropy, timm's LARS with
the config's hyperparameters (biases and norms without decay or adaptation, as the framework's
groups), the momentum encoders' EMA and MoCo's queue. The losses are written plainly here; the
metrics, logging, schedule and NaN guard of the framework are not (they are its overhead).
Under ``bf16-mixed`` the forward runs under autocast and the losses in float32, and the config's
channels-last layout and ``torch.compile`` are applied when on, as in the framework.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from timm.optim import Lars
from torch import Tensor, nn
from torch.utils.data import DataLoader

from benchmarking.framework import Settings, synthetic_loader
from benchmarking.measure import PeakMemory, StepClock, StepResult, step_result
from hyperssl.layers.mlp import mlp
from hyperssl.layers.projector import build_projector
from hyperssl.methods.base import backbone_from_config, pretrain_crop_size


def nt_xent_plain(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """SimCLR: cross-entropy over the [2B, 2B] cosine logits z_i·z_j/τ (diagonal masked), the
    target of row i being the other view of the same image. z1, z2: [B, D]."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
    batch = len(z1)
    targets = torch.arange(2 * batch, device=z.device).roll(batch)
    return F.cross_entropy(logits, targets)


def info_nce_queue_plain(q: Tensor, k: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """MoCo: cross-entropy with target 0 over [q·k, q·queue_1..K]/τ. q: [B, D] (normalised here),
    k: [B, D] normalised keys, queue: [K, D] normalised."""
    q = F.normalize(q.float(), dim=1)
    logits = torch.cat([(q * k).sum(dim=1, keepdim=True), q @ queue.T], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


def byol_plain(p: Tensor, k: Tensor) -> Tensor:
    """BYOL: mean over the batch of ||p̂ - k̂||² = 2 - 2 cos(p, k). p, k: [B, D]."""
    return (2 - 2 * F.cosine_similarity(p.float(), k.float(), dim=1)).mean()


class BareMethod(nn.Module):
    """Backbone, projector and online probe; subclasses add their other embeddings and loss."""

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone_from_config(cfg, pretrain_crop_size(cfg))
        features = self.backbone.num_features
        self.projector = build_projector(features, cfg.method.projector)
        self.classifier = nn.Linear(features, cfg.data.num_classes)

    def targets(self, views: list[Tensor], z: list[Tensor]) -> Any:
        """The method's other embeddings (predictions, momentum keys), under autocast."""

    def objective(self, z: list[Tensor], targets: Any) -> Tensor:
        """The method's loss, in float32."""
        raise NotImplementedError

    def after_step(self) -> None:
        """After the optimizer step (EMA, queue)."""

    def forward(self, views: list[Tensor], labels: Tensor) -> Tensor:
        # One pass per view, as the methods do by default: BatchNorm statistics of one view.
        feats = [self.backbone(view) for view in views]
        z = [self.projector(f) for f in feats]
        targets = self.targets(views, z)
        logits = self.classifier(torch.cat(feats).detach())
        with torch.autocast(logits.device.type, enabled=False):
            probe = F.cross_entropy(logits.float(), labels.repeat(len(views)))
            return self.objective(z, targets) + probe


class BareSimCLR(BareMethod):
    def objective(self, z: list[Tensor], targets: None) -> Tensor:
        return nt_xent_plain(z[0], z[1], self.cfg.method.temperature)


class BareMomentum(BareMethod):
    """A momentum copy of backbone and projector, updated by EMA after every step."""

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        self.momentum_backbone = copy.deepcopy(self.backbone).requires_grad_(False)
        self.momentum_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.tau = cfg.method.momentum.base_tau

    @torch.no_grad()
    def keys(self, views: list[Tensor]) -> list[Tensor]:
        return [self.momentum_projector(self.momentum_backbone(view)) for view in views]

    @torch.no_grad()
    def after_step(self) -> None:
        for online, target in (
            (self.backbone, self.momentum_backbone),
            (self.projector, self.momentum_projector),
        ):
            targets = [p.data for p in target.parameters()]
            torch._foreach_lerp_(targets, [p.data for p in online.parameters()], 1 - self.tau)


class BareMoCo(BareMomentum):
    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        # One queue of past keys per view, as solo-learn's MoCo v2+.
        shape = (2, cfg.method.queue_size, cfg.method.projector.output_dim)
        self.register_buffer("queue", F.normalize(torch.randn(shape), dim=2))
        self.pointer = 0
        self.pending: Tensor | None = None

    def targets(self, views: list[Tensor], z: list[Tensor]) -> list[Tensor]:
        return self.keys(views)

    def objective(self, z: list[Tensor], targets: list[Tensor]) -> Tensor:
        k1, k2 = (F.normalize(k.float(), dim=1) for k in targets)
        self.pending = torch.stack([k1, k2])
        temperature = self.cfg.method.temperature
        return (
            info_nce_queue_plain(z[0], k2, self.queue[1], temperature)
            + info_nce_queue_plain(z[1], k1, self.queue[0], temperature)
        ) / 2

    @torch.no_grad()
    def after_step(self) -> None:
        super().after_step()
        keys = self.pending
        batch = keys.shape[1]
        self.queue[:, self.pointer : self.pointer + batch] = keys
        self.pointer = (self.pointer + batch) % self.queue.shape[1]


class BareBYOL(BareMomentum):
    def __init__(self, cfg: DictConfig) -> None:
        super().__init__(cfg)
        dim = cfg.method.projector.output_dim
        self.predictor = mlp(dim, cfg.method.predictor.hidden_dim, dim, 2)

    def targets(self, views: list[Tensor], z: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        return [self.predictor(v) for v in z], self.keys(views)

    def objective(self, z: list[Tensor], targets: tuple[list[Tensor], list[Tensor]]) -> Tensor:
        (p1, p2), (k1, k2) = targets
        return byol_plain(p1, k2) + byol_plain(p2, k1)


BARE_METHODS: dict[str, type[BareMethod]] = {
    "simclr": BareSimCLR,
    "mocov2plus": BareMoCo,
    "byol": BareBYOL,
}


def lars(model: BareMethod, cfg: DictConfig) -> Lars:
    """timm's LARS; parameters of at most one dimension without decay (hence no adaptation), the
    probe at its own learning rate, as the framework's optimizer."""
    opt = cfg.optimizer
    scale = opt.batch_size / opt.reference_batch_size if opt.scale_lr_by_batch else 1.0
    trained = [
        p for name, p in model.named_parameters() if p.requires_grad and "classifier" not in name
    ]
    groups = [
        {"params": [p for p in trained if p.ndim > 1]},
        {"params": [p for p in trained if p.ndim <= 1], "weight_decay": 0.0},
        {
            "params": list(model.classifier.parameters()),
            "lr": opt.classifier_lr * scale,
            "weight_decay": 0.0,
        },
    ]
    return Lars(
        groups,
        lr=opt.lr * scale,
        momentum=opt.momentum,
        weight_decay=opt.weight_decay,
        trust_coeff=opt.trust_coefficient,
        trust_clip=True,
    )


def apply_speed_settings(model: BareMethod, cfg: DictConfig) -> torch.memory_format:
    """The framework's opt-in speed settings, mirrored: channels-last weights (and views, per
    step) with ``trainer.channels_last``, ``torch.compile`` of every module but the probe with
    ``compile``. Returns the views' memory format."""
    channels_last = cfg.trainer.get("channels_last", False)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    if cfg.get("compile", False):
        for name, module in model.named_children():
            if name != "classifier" and any(True for _ in module.parameters()):
                module.compile()
    return memory_format


def timed_batches(loader: DataLoader, clock: StepClock, warmup: int) -> Iterator:
    """The loader's batches, marking the start of every step after ``warmup``."""
    for index, batch in enumerate(loader):
        if index >= warmup:
            clock.start_step()
        yield batch


def run_bare(cfg: DictConfig, settings: Settings) -> StepResult:
    """Images/s and peak memory of the plain loop doing the step of ``cfg``'s method."""
    if settings.precision not in ("32-true", "bf16-mixed"):
        raise ValueError(f"the bare loop runs 32-true or bf16-mixed, not {settings.precision}")
    device = settings.device
    torch.manual_seed(settings.seed)
    model = BARE_METHODS[cfg.method.name](cfg).to(device).train()
    memory_format = apply_speed_settings(model, cfg)
    optimizer = lars(model, cfg)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(cfg.trainer.benchmark)
    loader = synthetic_loader(cfg, settings.warmup + settings.steps, device, settings.seed)
    mixed = settings.precision == "bf16-mixed"
    clock = StepClock(device)
    with PeakMemory(device) as memory:
        for views, labels, _ in timed_batches(loader, clock, settings.warmup):
            views = [view.contiguous(memory_format=memory_format) for view in views]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed):
                loss = model(views, labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            model.after_step()
        clock.stop()
    return step_result(clock.periods(), settings.batch_size, settings.statistic, memory.mib)
