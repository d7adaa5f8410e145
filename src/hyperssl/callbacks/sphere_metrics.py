"""Alignment, uniformity, Wasserstein uniformity, pair angles and effective rank of the
embeddings, and RankMe of the representations, each validation epoch.

Positive pairs are two augmented views (the pretraining augmentation) of a fixed sample of
validation images; negatives are the cross-view pairs of different images. Logged as
``val/alignment``, ``val/uniformity``, ``val/wasserstein_uniformity``, ``val/pos_angle_mean`` ...
``val/effective_rank`` (of the embeddings) and ``val/rankme`` (RankMe of the backbone features,
Garrido et al. ICML 2023; capped by ``num_samples``, so ``main_knn`` also reports it on the whole
training split).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor

from hyperssl.callbacks.embeddings import embed, positive_pair_views
from hyperssl.eval.metrics import effective_rank, pair_angles, sphere_metrics


class HypersphereMetrics(pl.Callback):
    """Sphere metrics of ``num_samples`` positive pairs; keeps the last pair angles for plots."""

    def __init__(self, num_samples: int = 256, alpha: float = 2.0, t: float = 2.0, seed: int = 0):
        self.num_samples = num_samples
        self.alpha = alpha
        self.t = t
        self.seed = seed

    def angles(self, pl_module: pl.LightningModule, datamodule: object) -> tuple[Tensor, Tensor]:
        """Positive and negative pair angles (degrees) of the current model; empty without data."""
        pairs = positive_pair_views(datamodule, self.num_samples, self.seed)
        if pairs is None:
            return torch.empty(0), torch.empty(0)
        _, z1 = embed(pl_module, pairs[0])
        _, z2 = embed(pl_module, pairs[1])
        return pair_angles(z1, z2)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        pairs = positive_pair_views(trainer.datamodule, self.num_samples, self.seed)
        if pairs is None:
            return
        feats, z1 = embed(pl_module, pairs[0])
        _, z2 = embed(pl_module, pairs[1])
        metrics = sphere_metrics(z1, z2, alpha=self.alpha, t=self.t)
        metrics["rankme"] = effective_rank(feats)
        pl_module.log_dict({f"val/{name}": value for name, value in metrics.items()})
