"""The process's random states (torch's CPU generator, NumPy's, Python's) as plain lists and
tensors, so that a checkpoint holding them loads with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_random_states() -> dict[str, Any]:
    """The current random states, in a form :func:`restore_random_states` takes back."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, keys.tolist(), position, has_gauss, cached],
        "python": random.getstate(),
    }


def restore_random_states(states: dict[str, Any]) -> None:
    """Set the random states :func:`capture_random_states` returned (or a checkpoint held)."""
    torch.set_rng_state(states["torch"])
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    random.setstate(states["python"])
