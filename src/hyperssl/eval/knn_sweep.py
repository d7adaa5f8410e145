"""Weighted k-NN for many (k, temperature) at once, in memory bounded by two chunk sizes.

The neighbours are searched once, for the largest k, and every (k, temperature) pair is scored from
that list: the nearest k of the k_max nearest are the k nearest. Both the queries and the memory
bank are processed in chunks, so beyond the features themselves memory is
O(test_chunk_size x (train_chunk_size + k_max) + train_chunk_size x D) whatever the number of
training images.

The votes are those of :func:`hyperssl.eval.knn.knn_class_scores`: exp(cos / T) for cosine
(InstDisc, Wu et al. 2018), 1 / distance for euclidean (which ignores T).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.errors import ConfigError
from hyperssl.eval.knn import DISTANCES


@torch.no_grad()
def nearest_neighbours(
    train: Tensor,
    test: Tensor,
    k: int,
    distance: str = "cosine",
    test_chunk_size: int = 1024,
    train_chunk_size: int = 16384,
) -> Iterator[tuple[int, Tensor, Tensor]]:
    """For each chunk of test rows: (first row, values [c, k], train indices [c, k]), nearest
    first; values are cosine similarities (cosine) or distances (euclidean)."""
    if distance not in DISTANCES:
        raise ConfigError("distance", f"unknown distance {distance!r}", ", ".join(DISTANCES))
    if not 1 <= k <= len(train):
        raise ConfigError("k", f"{k} is outside 1..{len(train)} (the train set size)")
    cosine = distance == "cosine"
    for start in range(0, len(test), test_chunk_size):
        queries = test[start : start + test_chunk_size].float()
        if cosine:
            queries = F.normalize(queries, dim=1)
        best_values: Tensor | None = None
        best_index: Tensor | None = None
        for offset in range(0, len(train), train_chunk_size):
            # Normalised block by block: no second copy of the whole bank is ever held.
            block = train[offset : offset + train_chunk_size].float()
            if cosine:
                block = F.normalize(block, dim=1)
            scores = queries @ block.T if cosine else torch.cdist(queries, block)
            values, index = scores.topk(min(k, len(block)), dim=1, largest=cosine)
            index += offset
            if best_values is not None:
                values = torch.cat([best_values, values], dim=1)
                index = torch.cat([best_index, index], dim=1)
                values, order = values.topk(min(k, values.shape[1]), dim=1, largest=cosine)
                index = index.gather(1, order)
            best_values, best_index = values, index
        yield start, best_values, best_index


def vote_weights(values: Tensor, distance: str, temperature: float) -> Tensor:
    """Vote weights of the neighbours [c, k], up to a positive factor per row.

    For cosine, exp((cos - cos_max) / T): the row's largest similarity is subtracted so that a
    small T cannot overflow; a common factor per row changes no ranking.
    """
    if distance == "cosine":
        return ((values - values[:, :1]) / temperature).exp()
    return 1.0 / (values + 1e-8)


@torch.no_grad()
def knn_sweep(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    ks: Sequence[int],
    temperatures: Sequence[float],
    distance: str = "cosine",
    test_chunk_size: int = 1024,
    train_chunk_size: int = 16384,
) -> list[dict[str, float | int | str | None]]:
    """Top-1 and top-5 accuracy (percent) for every k and temperature.

    Returns one row per (k, temperature) for cosine and one per k for euclidean (temperature
    None): ``{"distance", "k", "temperature", "top1", "top5"}``.
    """
    ks = sorted(set(ks))
    temps: list[float | None] = sorted(set(temperatures)) if distance == "cosine" else [None]
    top = min(5, num_classes)
    hits = {(k, t): torch.zeros(2, dtype=torch.long) for k in ks for t in temps}
    train_labels = train_labels.to(train_features.device)
    test_labels = test_labels.to(test_features.device)
    for start, values, index in nearest_neighbours(
        train_features, test_features, max(ks), distance, test_chunk_size, train_chunk_size
    ):
        labels = test_labels[start : start + len(values)]
        neighbour_labels = train_labels[index]
        for k in ks:
            for t in temps:
                weights = vote_weights(values[:, :k], distance, t or 1.0)
                votes = torch.zeros(len(values), num_classes, device=weights.device)
                votes.scatter_add_(1, neighbour_labels[:, :k], weights)
                ranked = votes.topk(top, dim=1).indices == labels[:, None]
                hits[k, t] += torch.stack([ranked[:, 0].sum(), ranked.any(dim=1).sum()]).cpu()
    count = max(len(test_features), 1)
    return [
        {
            "distance": distance,
            "k": k,
            "temperature": t,
            "top1": 100.0 * hits[k, t][0].item() / count,
            "top5": 100.0 * hits[k, t][1].item() / count,
        }
        for k in ks
        for t in temps
    ]
