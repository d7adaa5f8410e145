"""Weighted k-nearest-neighbour classification of features, in bounded memory.

Hand-written because no library offers the InstDisc-weighted vote (Wu et al., 2018) on torch
tensors with chunked top-k; scikit-learn's KNeighborsClassifier would hold the full distance matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.errors import ConfigError

DISTANCES = ("cosine", "euclidean")


@torch.no_grad()
def knn_class_scores(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    distance: str = "cosine",
    chunk_size: int = 1024,
) -> Tensor:
    """Class scores [N_test, C] of a weighted k-NN vote.

    cosine:    neighbours by largest cos(x, x_i); vote weight exp(cos / T) (InstDisc).
    euclidean: neighbours by smallest ||x - x_i||; vote weight 1 / (||x - x_i|| + 1e-8).
    The test set is processed in chunks of ``chunk_size`` rows, so memory is
    O(chunk_size x N_train) whatever the sizes.
    """
    if distance not in DISTANCES:
        raise ConfigError("distance", f"unknown distance {distance!r}", ", ".join(DISTANCES))
    if not 1 <= k <= len(train_features):
        raise ConfigError("k", f"{k} is outside 1..{len(train_features)} (the train set size)")
    train = train_features.float()
    if distance == "cosine":
        train = F.normalize(train, dim=1)
    scores = []
    for chunk in test_features.float().split(chunk_size):
        if distance == "cosine":
            similarity = F.normalize(chunk, dim=1) @ train.T
            top_values, top_index = similarity.topk(k, dim=1)
            weights = (top_values / temperature).exp()
        else:
            dist = torch.cdist(chunk, train)
            top_values, top_index = dist.topk(k, dim=1, largest=False)
            weights = 1.0 / (top_values + 1e-8)
        votes = torch.zeros(len(chunk), num_classes, dtype=weights.dtype, device=weights.device)
        votes.scatter_add_(1, train_labels[top_index], weights)
        scores.append(votes)
    return torch.cat(scores)


def topk_accuracy(scores: Tensor, labels: Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[int, float]:
    """Share of rows whose label is among the ``k`` highest scores, for each k, in percent."""
    ranked = scores.topk(min(max(ks), scores.shape[1]), dim=1).indices
    hits = ranked == labels[:, None]
    return {k: 100.0 * hits[:, :k].any(dim=1).float().mean().item() for k in ks}


def weighted_knn(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    distance: str = "cosine",
    chunk_size: int = 1024,
) -> tuple[float, float]:
    """(top-1, top-5) accuracy in percent of the weighted k-NN classifier."""
    scores = knn_class_scores(
        train_features,
        train_labels,
        test_features,
        num_classes,
        k,
        temperature,
        distance,
        chunk_size,
    )
    accuracy = topk_accuracy(scores, test_labels)
    return accuracy[1], accuracy[5]
