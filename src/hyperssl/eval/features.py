"""Extract backbone features of a whole data set, once, with a progress bar."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm


@torch.no_grad()
def extract_features(
    model: nn.Module, loader: DataLoader, device: torch.device | str = "cpu", desc: str = "features"
) -> tuple[Tensor, Tensor]:
    """Features [N, F] (float32, on CPU) and labels [N] of every ``(images, labels)`` batch."""
    was_training = model.training
    model.eval()
    features, labels = [], []
    for batch in tqdm(loader, desc=desc, leave=False, dynamic_ncols=True):
        images, batch_labels = batch[0], batch[1]
        features.append(model(images.to(device, non_blocking=True)).float().cpu())
        labels.append(batch_labels)
    model.train(was_training)
    return torch.cat(features), torch.cat(labels)
