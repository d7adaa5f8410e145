"""Gathering across processes with gradients, for the losses that need the whole batch.

Built on ``torch.distributed.nn.functional.all_gather``, whose backward sums each rank's
gradient slices back to their owner (a plain ``torch.distributed.all_gather`` drops them).

Every batch-level loss is computed on the gathered global batch, identically on every rank. With
DDP averaging the parameter gradients over ranks, that gives exactly the gradient of one process
on the concatenated batch: rank r's inputs receive Σ_r' ∂L/∂x_r = W ∂L/∂x_r from the gather's
backward, and DDP's mean divides the W back out.
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
from torch import Tensor
from torch.distributed.nn.functional import all_gather

# torch 2.6+ points to a private replacement (_functional_collectives); the public autograd
# all_gather stays correct and documented, so its deprecation notice is silenced.
warnings.filterwarnings("ignore", message=".*distributed.nn.functional.all_gather is deprecated")


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather(tensor: Tensor) -> Tensor:
    """[B, ...] on each rank -> [W·B, ...], rank-major, differentiable; identity on one process."""
    if world_size() == 1:
        return tensor
    return torch.cat(all_gather(tensor.contiguous()))
