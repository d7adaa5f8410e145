"""FIFO queues of past embeddings on the sphere, one per view: MoCo's negatives, SwAV's extra
samples for Sinkhorn-Knopp, NNCLR's support set.

A step's embeddings are staged when its loss is known (``after_step``, with the output gathered
over processes, so every rank holds the same queue) and written after backward
(``on_train_batch_end``): the loss's graph still reads the queue until then, and writing into it
in place would break autograd. The queue is a set of buffers, so checkpoints hold it and a
resumed run continues with it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperssl.errors import ConfigError


def check_queue_size(queue_size: int, global_batch: int, key: str = "method.queue_size") -> None:
    """Each view's queue takes that view's rows of the global batch per step, so its size must be
    a multiple of the global batch (solo-learn asserts the same)."""
    if queue_size < 1 or queue_size % global_batch:
        raise ConfigError(
            key,
            f"{queue_size} is not a multiple of the rows each view enqueues per step "
            f"(the global batch, {global_batch})",
            f"a multiple of {global_batch}",
        )


class FeatureQueue(nn.Module):
    """``views`` queues of ``size`` unit rows of dimension ``dim``: ``items`` [V, K, D].

    They start as random unit vectors (MoCo's initialisation); ``written`` counts the rows ever
    written, so :meth:`is_full` tells when no random row is left (SwAV uses its queue only then).
    Every step writes the same number of rows per view at the shared pointer ``ptr``.
    """

    def __init__(self, views: int, size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("items", F.normalize(torch.randn(views, size, dim), dim=2))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("written", torch.zeros((), dtype=torch.long))
        self._staged: Tensor | None = None
        # Host copies of ptr and written, so that enqueuing never waits for the device.
        self._ptr = 0
        self._written = 0

    @property
    def size(self) -> int:
        return self.items.shape[1]

    def on_fit_start(self, global_batch: int) -> None:
        """Read the pointer once, after a resume restored the buffers, and check the size
        against the rows a step really writes (validation saw only what the config says; the
        trainer knows the world size)."""
        check_queue_size(self.size, global_batch)
        self._ptr, self._written = int(self.ptr), int(self.written)

    def is_full(self) -> bool:
        """Whether every row holds a written embedding (no random start value left)."""
        return self._written >= self.size

    @torch.no_grad()
    def stage(self, rows: list[Tensor]) -> None:
        """Keep one [B, D] tensor per view, detached and L2-normalised, for :meth:`push_staged`."""
        stacked = torch.stack([row.detach().to(self.items.dtype) for row in rows])
        self._staged = F.normalize(stacked, dim=2)

    @torch.no_grad()
    def push_staged(self) -> None:
        """Write the staged rows at the pointer (oldest first out) and move the pointer."""
        rows, self._staged = self._staged, None
        if rows is None:
            return
        batch = rows.shape[1]
        self.items[:, self._ptr : self._ptr + batch] = rows
        self._ptr = (self._ptr + batch) % self.size
        self._written += batch
        self.ptr.fill_(self._ptr)
        self.written.fill_(self._written)
