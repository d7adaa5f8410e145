"""Stop a run at the first NaN or inf loss, naming the step and the head that produced it.

Two ways to watch, chosen by ``nan_guard`` (``auto``: ``step`` on CPU, ``deferred`` elsewhere):

- ``step`` reads each step's finiteness on the host before the optimizer step, so the run stops
  with the weights of the last good step intact. On CPU this read costs nothing; on a GPU it is a
  host-device synchronisation per step, which stalls the launch queue.
- ``deferred`` keeps, on the device, the first non-finite step and value of each head, and reads
  them only where the host reads values anyway: at each logging step, before any checkpoint is
  written and at the end of training. The step and head are still exact; no checkpoint holding
  the damaged weights is ever written, so ``checkpoints/last.ckpt`` is the last good state.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperssl.errors import NonFiniteLossError

NAN_GUARD_MODES = ("auto", "step", "deferred")


def checks_each_step(mode: str, device: torch.device) -> bool:
    """Whether ``nan_guard=<mode>`` reads the guard on the host every step: ``step`` always,
    ``auto`` on the CPU (where the read costs nothing); else only where the host reads anyway."""
    return mode == "step" or (mode == "auto" and device.type == "cpu")


class NonFiniteGuard:
    """Records the first non-finite value of each named loss term; ``raise_if_failed`` reads it."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._first_step: Tensor | None = None  # [heads] long, -1 while finite
        self._first_value: Tensor | None = None  # [heads] float32

    def observe(self, terms: dict[str, Tensor], step: int) -> None:
        """Note this step's values; tensor ops only (no host read)."""
        values = torch.stack([terms[name].detach().float().reshape(()) for name in self.names])
        if self._first_step is None:
            self._first_step = torch.full_like(values, -1, dtype=torch.long)
            self._first_value = torch.zeros_like(values)
        first_bad = ~torch.isfinite(values) & (self._first_step < 0)
        self._first_step = torch.where(first_bad, step, self._first_step)
        self._first_value = torch.where(first_bad, values, self._first_value)

    def failure(self) -> str | None:
        """The message of the first non-finite value seen, or None (one host read)."""
        if self._first_step is None:
            return None
        steps = self._first_step.tolist()
        bad = [(step, name) for step, name in zip(steps, self.names, strict=True) if step >= 0]
        if not bad:
            return None
        step, name = min(bad)
        value = self._first_value[self.names.index(name)].item()
        others = [other for other_step, other in bad if other_step == step and other != name]
        also = f" (also non-finite at that step: {', '.join(others)})" if others else ""
        return f"step {step}: head {name!r} produced {value}{also}"

    def raise_if_failed(self, where_good_state_is: str) -> None:
        message = self.failure()
        if message is not None:
            raise NonFiniteLossError(f"{message}; {where_good_state_is}")
