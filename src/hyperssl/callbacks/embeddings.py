"""What the diagnostics callbacks look at: embeddings of fixed validation images and views.

Samples are taken at evenly spaced positions of the validation set (every class shows up in sorted
or shuffled sets alike), and augmented views are drawn under a forked, seeded torch RNG: the same
views every time, and the training run's random stream is left exactly as it was (resume stays
exact, and a run gives the same numbers with diagnostics on or off).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

BATCH = 256


def sample_positions(size: int, count: int) -> list[int]:
    """``min(size, count)`` distinct, evenly spaced positions in ``range(size)``."""
    count = min(size, count)
    if count <= 0:
        return []
    return torch.linspace(0, size - 1, count).round().long().unique().tolist()


@torch.no_grad()
def embed(module: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """Backbone features [B, F] and embeddings [B, D] (the projector's output; the features when
    the method has no projector) of ``images``, in eval mode, as float32 on the CPU."""
    was_training = module.training
    module.eval()
    device = next(module.parameters()).device
    feats, embeddings = [], []
    for chunk in images.split(BATCH):
        f = module.backbone(chunk.to(device))
        projector = getattr(module, "projector", None)
        embeddings.append((projector(f) if projector is not None else f).float().cpu())
        feats.append(f.float().cpu())
    module.train(was_training)
    return torch.cat(feats), torch.cat(embeddings)


def embedding_space(module: nn.Module) -> str:
    """What :func:`embed`'s embeddings are: the projector's output, or the backbone's features
    when the method has no projector."""
    if getattr(module, "projector", None) is not None:
        return "projector output"
    return "backbone features"


def class_names(datamodule: Any) -> list[str]:
    """The validation set's class names, by label (its ``classes``, as torchvision's data sets
    and ours have them); empty when it has none."""
    classes = getattr(getattr(datamodule, "val_set", None), "classes", None) or []
    return [str(name) for name in classes]


def validation_images(datamodule: Any, max_points: int) -> tuple[Tensor, Tensor] | None:
    """Up to ``max_points`` validation images (eval transform) [N, 3, H, W] and labels [N]."""
    val_set = getattr(datamodule, "val_set", None)
    transform = getattr(datamodule, "eval_transform", None)
    if val_set is None or transform is None or len(val_set) < 2:
        return None
    samples = [val_set[i] for i in sample_positions(len(val_set), max_points)]
    images = torch.stack([transform(image) for image, _ in samples])
    return images, torch.tensor([label for _, label in samples])


def positive_pair_views(
    datamodule: Any, num_samples: int, seed: int
) -> tuple[Tensor, Tensor] | None:
    """Two augmented views [N, 3, H, W] each of up to ``num_samples`` validation images, drawn
    with the pretraining augmentation under a forked RNG seeded with ``seed``."""
    val_set = getattr(datamodule, "val_set", None)
    transform = getattr(datamodule, "train_transform", None)
    if val_set is None or transform is None or len(val_set) < 2:
        return None
    first, second = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for position in sample_positions(len(val_set), num_samples):
            views = transform(val_set[position][0])
            if len(views) < 2:
                return None
            first.append(views[0])
            second.append(views[1])
    return torch.stack(first), torch.stack(second)
