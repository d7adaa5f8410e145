"""Weighted k-nearest-neighbour classification of features, in bounded memory.

One implementation for every k-NN number the project reports: the pretraining summary and the
online callback call :func:`weighted_knn`, ``main_knn.py`` calls :func:`knn_sweep`, and the
former is the one-setting case of the latter, so the same features, k, T and distance give the
same top-1 and top-5 everywhere.

Neighbours: searched once per query for the largest k, in chunks of queries and of the memory
bank, so beyond the features themselves memory is
O(test_chunk_size x (train_chunk_size + k_max) + train_chunk_size x D) whatever the sizes.
Neighbours at equal similarity (or distance) are ordered by their index in the bank, so the list
is the same whatever the k searched for (its first k entries are the k nearest) and the chunk
sizes (up to the last bit of the similarities, which a BLAS may round differently for another
block shape).

Vote: each of the k nearest adds a weight to its class.

- cosine: exp(cos(x, x_i) / T), as InstDisc (Wu et al., 2018) and solo-learn weight it,
  computed as exp((cos(x, x_i) - cos(x, x_1)) / T) with x_1 the nearest: a positive factor per
  query, which changes no ranking and keeps a small T from overflowing.
- euclidean: 1 / (||x - x_i|| + 1e-8); T is ignored.

Top-k: a query scores when its label is among the k classes with the most votes; classes with
equal votes (those no neighbour voted for, among others) rank by class index, smaller first
(:func:`hyperssl.eval.metrics.label_rank`). With fewer than 5 classes top-5 is top-C, 100%.

Hand-written because no library offers this vote on torch tensors with a chunked search;
scikit-learn's KNeighborsClassifier would hold the full distance matrix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.errors import ConfigError
from hyperssl.eval.metrics import label_rank

DISTANCES = ("cosine", "euclidean")


def _best_k(values: Tensor, index: Tensor, k: int, largest: bool) -> tuple[Tensor, Tensor]:
    """The k best candidates of each row by value, then by index: candidates' values [c, m] and
    train indices [c, m] (or [1, m]) in, (values, indices) [c, min(k, m)] out, best first.

    Equal values may come in any order (:func:`_order_ties` orders them), but which of them are
    kept at the k-th place is decided by index, so that the kept set never depends on the
    chunks the candidates came in.
    """
    index = index.expand_as(values)
    if k >= values.shape[1]:
        values, order = values.sort(dim=1, descending=largest)
        return values, index.gather(1, order)
    top, column = values.topk(k + 1, dim=1, largest=largest)
    # Rows whose k-th and (k+1)-th values tie (rare): topk kept any of the tied candidates.
    cut = (top[:, k - 1] == top[:, k]).nonzero().squeeze(1)
    top, column = top[:, :k], column[:, :k]
    if len(cut):
        rows, row_index = values[cut], index[cut]
        bound = top[cut, k - 1 :]
        better = rows > bound if largest else rows < bound
        tied = rows == bound
        wanted = k - better.sum(dim=1, keepdim=True)
        tied_index = torch.where(tied, row_index, torch.iinfo(row_index.dtype).max)
        last_kept = tied_index.sort(dim=1).values.gather(1, wanted - 1)
        kept = (better | (tied & (row_index <= last_kept))).nonzero()[:, 1].view(-1, k)
        top[cut], order = rows.gather(1, kept).sort(dim=1, descending=largest)
        column[cut] = kept.gather(1, order)
    return top, index.gather(1, column)


def _order_ties(values: Tensor, index: Tensor, largest: bool) -> tuple[Tensor, Tensor]:
    """Neighbours [c, k] sorted by value, with equal values put in index order; only the rows
    holding a tie are sorted again (a few, even for random float32 features)."""
    rows = (values[:, 1:] == values[:, :-1]).any(dim=1).nonzero().squeeze(1)
    if len(rows):
        row_index, order = index[rows].sort(dim=1)
        row_values, order = (
            values[rows].gather(1, order).sort(dim=1, descending=largest, stable=True)
        )
        values[rows], index[rows] = row_values, row_index.gather(1, order)
    return values, index


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
    first and equal values by train index; values are cosine similarities (cosine) or distances
    (euclidean)."""
    if distance not in DISTANCES:
        raise ConfigError("distance", f"unknown distance {distance!r}", ", ".join(DISTANCES))
    if not 1 <= k <= len(train):
        raise ConfigError("k", f"{k} is outside 1..{len(train)} (the train set size)")
    cosine = distance == "cosine"
    for start in range(0, len(test), test_chunk_size):
        queries = test[start : start + test_chunk_size].float()
        if cosine:
            queries = F.normalize(queries, dim=1)
        else:
            query_norms = (queries * queries).sum(dim=1, keepdim=True)
        best_values: Tensor | None = None
        best_index: Tensor | None = None
        for offset in range(0, len(train), train_chunk_size):
            # Normalised block by block: no second copy of the whole bank is ever held.
            block = train[offset : offset + train_chunk_size].float()
            if cosine:
                scores = queries @ F.normalize(block, dim=1).T
            else:
                # Squared distances ||x||^2 + ||y||^2 - 2 x.y, as torch.cdist computes them, with
                # the square root taken of the k kept only (cdist takes it of every entry).
                block_norms = (block * block).sum(dim=1)
                scores = torch.addmm(block_norms, queries, block.T, alpha=-2).add_(query_norms)
            columns = torch.arange(offset, offset + len(block), device=scores.device)
            values, index = _best_k(scores, columns[None], k, largest=cosine)
            if best_values is not None:
                values, index = _best_k(
                    torch.cat([best_values, values], dim=1),
                    torch.cat([best_index, index], dim=1),
                    k,
                    largest=cosine,
                )
            best_values, best_index = values, index
        if not cosine:
            best_values = best_values.clamp(min=0).sqrt()
        yield start, *_order_ties(best_values, best_index, largest=cosine)


def class_votes(
    values: Tensor,
    neighbour_labels: Tensor,
    num_classes: int,
    distance: str,
    temperature: float | None,
) -> Tensor:
    """Votes [c, C] of the neighbours' values [c, k] (nearest first, as
    :func:`nearest_neighbours` gives them) for their labels [c, k].

    cosine: sum_i exp((cos_i - cos_1) / T) per class; euclidean: sum_i 1 / (d_i + 1e-8).
    """
    if distance == "cosine":
        weights = ((values - values[:, :1]) / temperature).exp()
    else:
        weights = 1.0 / (values + 1e-8)
    votes = torch.zeros(len(values), num_classes, dtype=weights.dtype, device=weights.device)
    return votes.scatter_add_(1, neighbour_labels, weights)


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
    """Top-1 and top-5 accuracy (percent) for every k and temperature, from one search.

    Returns one row per (k, temperature) for cosine and one per k for euclidean (temperature
    None): ``{"distance", "k", "temperature", "top1", "top5"}``, k ascending, then T.
    """
    temps: list[float | None] = sorted(set(temperatures)) if distance == "cosine" else [None]
    settings = [(k, t) for k in sorted(set(ks)) for t in temps]
    hits = torch.zeros(len(settings), 2, dtype=torch.long, device=test_features.device)
    train_labels = train_labels.to(train_features.device)
    test_labels = test_labels.to(test_features.device)
    for start, values, index in nearest_neighbours(
        train_features, test_features, max(ks), distance, test_chunk_size, train_chunk_size
    ):
        labels = test_labels[start : start + len(values)]
        neighbour_labels = train_labels[index]
        # Every setting's votes ranked at once [S, c]: a few large operations rather than many
        # small ones, which cost a thread synchronisation each.
        votes = torch.cat(
            [
                class_votes(values[:, :k], neighbour_labels[:, :k], num_classes, distance, t)
                for k, t in settings
            ]
        )
        rank = label_rank(votes, labels.repeat(len(settings))).view(len(settings), -1)
        hits += torch.stack([(rank < 1).sum(dim=1), (rank < 5).sum(dim=1)], dim=1)
    count = max(len(test_features), 1)
    return [
        {
            "distance": distance,
            "k": k,
            "temperature": t,
            "top1": 100.0 * top1 / count,
            "top5": 100.0 * top5 / count,
        }
        for (k, t), (top1, top5) in zip(settings, hits.tolist(), strict=True)
    ]


def weighted_knn(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    distance: str = "cosine",
    test_chunk_size: int = 1024,
    train_chunk_size: int = 16384,
) -> tuple[float, float]:
    """(top-1, top-5) accuracy in percent of one setting: :func:`knn_sweep`'s row for it."""
    (row,) = knn_sweep(
        train_features,
        train_labels,
        test_features,
        test_labels,
        num_classes,
        [k],
        [temperature],
        distance,
        test_chunk_size,
        train_chunk_size,
    )
    return row["top1"], row["top5"]
