"""A shuffling sampler whose order is a function of (seed, epoch), so a resumed run sees the
same batches as an uninterrupted one.

torch's RandomSampler draws from a generator that lives as long as the DataLoader, so after a
resume epoch e would replay epoch 0's order; DistributedSampler has the (seed, epoch) rule but
Lightning leaves an existing DistributedSampler alone under DDP. Lightning calls ``set_epoch`` on
this sampler each epoch and, under DDP, wraps it to split the order across ranks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
from torch.utils.data import Sampler


class EpochSeededShuffle(Sampler[int]):
    """A permutation of ``range(len(data))`` drawn from ``seed + epoch``."""

    def __init__(self, data: Sized, seed: int) -> None:
        self.size = len(data)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())
