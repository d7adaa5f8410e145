"""A shuffling sampler whose order is a function of (seed, epoch), so a resumed run sees the
same batches as an uninterrupted one.

torch's RandomSampler draws from a generator that lives as long as the DataLoader, so after a
resume epoch e would replay epoch 0's order; DistributedSampler has the (seed, epoch) rule but
Lightning leaves an existing DistributedSampler alone under DDP. Lightning calls ``set_epoch`` on
this sampler each epoch and, under DDP, wraps it to split the order across ranks.

The seeds of a loader's worker processes follow the same rule (:attr:`worker_seeds`): by default
a DataLoader draws them from the global generator when an epoch's iterator is made, whose state
at that moment a checkpoint taken mid-epoch does not hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch.utils.data import Sampler


class EpochSeededShuffle(Sampler[int]):
    """A permutation of ``range(len(data))`` drawn from ``seed + epoch``.

    :attr:`worker_seeds` is the generator to give the DataLoader (``generator=``) when it has
    worker processes: it draws their base seed at each epoch's start, and is seeded from
    ``(seed, epoch)`` by :meth:`set_epoch`, so a run resumed mid-epoch starts them as the
    uninterrupted run did.
    """

    def __init__(self, data: Sized, seed: int) -> None:
        self.size = len(data)
        self.seed = seed
        self.worker_seeds = torch.Generator()
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        # Apart from the permutation's seed; SeedSequence mixes the pair into 64 bits.
        (seed,) = np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)
        self.worker_seeds.manual_seed(int(seed))

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())
