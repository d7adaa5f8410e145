"""Stop a run at the first NaN or inf, in a loss or in the state, naming the step and where.

Two things are watched. Every loss a training step logs (each head's term and the online
probe's loss; their weighted sum overflows only with its gradient, which the state check sees) is
recorded on the device by :class:`NonFiniteGuard`. The state a
checkpoint holds (every parameter, buffer, BatchNorm's running statistics included, and optimizer
state tensor) is checked by :class:`StateGuard` with one fused reduction: a step can leave the
loss finite while its update already overflowed the weights or BatchNorm's statistics (training
normalises with batch statistics, so an inf running variance shows only at evaluation).

Two ways to watch, chosen by ``nan_guard`` (``auto``: ``step`` on CPU, ``deferred`` elsewhere):

- ``step`` reads, on the host, each step's losses before the optimizer step and the state after
  it, so the run stops at the step that produced the first NaN or inf. The state before each step
  is kept in memory (:class:`StateSnapshot`, a copy of the weights, buffers and optimizer state),
  put back when that step fails and saved as ``checkpoints/last_good.ckpt``: finite, whether the
  loss or the update of the failed step broke. On CPU the reads cost nothing and the copy little
  next to a step; on a GPU each read is a host-device synchronisation, which stalls the launch
  queue.
- ``deferred`` keeps, on the device, the first non-finite step and value of each loss, and reads
  them and checks the state only where the host reads values anyway: at each logging step, before
  validation, before any checkpoint is written and at the end of training. A loss's step is still
  exact; the state's is narrowed to the steps since the previous check. No checkpoint holding a
  non-finite tensor is ever written, so ``checkpoints/last.ckpt`` is the last good state.

In every mode the state is checked when training starts (a resumed checkpoint must be finite) and
before every checkpoint is written. A loss that is finite but huge is not stopped: no threshold
fits every head's scale, and a diverging run reaches inf within a few steps, which stops it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.nn.utils import get_total_norm
from torch.optim import Optimizer

NAN_GUARD_MODES = ("auto", "step", "deferred")


def checks_each_step(mode: str, device: torch.device) -> bool:
    """Whether ``nan_guard=<mode>`` reads the guard on the host every step: ``step`` always,
    ``auto`` on the CPU (where the read costs nothing); else only where the host reads anyway."""
    return mode == "step" or (mode == "auto" and device.type == "cpu")


def any_process(module: pl.LightningModule, failed: bool) -> bool:
    """Whether ``failed`` holds on any process: under DDP every process must stop at the same
    point (BatchNorm statistics and the online probe's loss are per process), or the others would
    wait for it in their next collective."""
    if module._trainer is None:
        return failed
    return module.trainer.strategy.reduce_boolean_decision(failed, all=False)


class NonFiniteGuard:
    """Records the first non-finite value of each named loss; :meth:`failure` reads it.

    ``losses``: each loss's key, as :meth:`observe` receives it, and how a message names it
    (``head 'nt_xent'``)."""

    def __init__(self, losses: dict[str, str]) -> None:
        self.names = list(losses)
        self.labels = losses
        self._first_step: Tensor | None = None  # [losses] long, -1 while finite
        self._first_value: Tensor | None = None  # [losses] float32

    def observe(self, values: dict[str, Tensor], step: int) -> None:
        """Note this step's values; tensor ops only (no host read)."""
        stacked = torch.stack([values[name].detach().float().reshape(()) for name in self.names])
        if self._first_step is None:
            self._first_step = torch.full_like(stacked, -1, dtype=torch.long)
            self._first_value = torch.zeros_like(stacked)
        first_bad = ~torch.isfinite(stacked) & (self._first_step < 0)
        self._first_step = torch.where(first_bad, step, self._first_step)
        self._first_value = torch.where(first_bad, stacked, self._first_value)

    def failure(self) -> str | None:
        """The message of the first non-finite value seen, or None (one host read)."""
        if self._first_step is None:
            return None
        steps = self._first_step.tolist()
        bad = [(step, i) for i, step in enumerate(steps) if step >= 0]
        if not bad:
            return None
        step, first = min(bad)
        value = self._first_value[first].item()
        others = [self.labels[self.names[i]] for s, i in bad if s == step and i != first]
        also = f" (also non-finite at that step: {', '.join(others)})" if others else ""
        return f"step {step}: {self.labels[self.names[first]]} produced {value}{also}"


def checkpoint_tensors(module: nn.Module, optimizers: Sequence[Optimizer]) -> dict[str, Tensor]:
    """Every floating-point tensor a checkpoint of ``module`` and ``optimizers`` holds, named as
    a message names it: ``parameter 'backbone.conv1.weight'``, ``buffer 'backbone.bn1.running_var'``
    or ``optimizer state 'momentum_buffer' of 'backbone.conv1.weight'``."""
    parameters = dict(module.named_parameters(remove_duplicate=False))
    tensors = {
        f"{'parameter' if name in parameters else 'buffer'} {name!r}": value
        for name, value in module.state_dict().items()
        if isinstance(value, Tensor)
    }
    names = {id(parameter): name for name, parameter in parameters.items()}
    for optimizer in optimizers:
        for parameter, state in optimizer.state.items():
            owner = names.get(id(parameter), "a parameter outside the module")
            for key, value in state.items():
                if isinstance(value, Tensor):
                    tensors[f"optimizer state {key!r} of {owner!r}"] = value
    return {
        name: tensor
        for name, tensor in tensors.items()
        if tensor.is_floating_point() and tensor.numel() > 0
    }


def first_non_finite(tensors: dict[str, Tensor]) -> str | None:
    """``<name> <nan or inf>`` of the first tensor holding a NaN or inf, with how many others do,
    or None when every tensor is finite. The largest magnitude over all tensors (torch's fused
    multi-tensor norm, NaN if any element is) is finite exactly when each tensor is: one reduction
    and one host read; each tensor is looked at only once one is not finite."""
    if not tensors or torch.isfinite(get_total_norm(tensors.values(), math.inf)).item():
        return None
    bad = [(name, tensor) for name, tensor in tensors.items() if not torch.isfinite(tensor).all()]
    name, tensor = bad[0]
    others = f" (and {len(bad) - 1} other tensors non-finite)" if len(bad) > 1 else ""
    return f"{name} {'nan' if tensor.isnan().any() else 'inf'}{others}"


class StateGuard:
    """Checks that what a checkpoint of a module would hold is finite, and names the steps that
    may have broken it: those since the last check that passed."""

    def __init__(self) -> None:
        self.finite_before = 0  # the state was finite after every step before this one

    def at_start(self, module: pl.LightningModule) -> str | None:
        """Where training starts (from a resumed checkpoint or not): None if the state is finite,
        else what is not."""
        self.finite_before = module.global_step
        what = self._non_finite(module)
        if what is None:
            return None
        return f"the state training starts from (step {module.global_step}) holds {what}"

    def after(self, module: pl.LightningModule, steps_done: int) -> str | None:
        """After ``steps_done`` steps: None if the state is finite, else which step (or which of
        the steps since the last check) left what non-finite."""
        what = self._non_finite(module)
        if what is None:
            self.finite_before = steps_done
            return None
        last = steps_done - 1
        first = min(self.finite_before, last)
        steps = f"step {last}" if first == last else f"one of steps {first}-{last}"
        return f"{steps} made {what}"

    @staticmethod
    def _non_finite(module: pl.LightningModule) -> str | None:
        optimizers = module.trainer.optimizers if module._trainer is not None else []
        what = first_non_finite(checkpoint_tensors(module, optimizers))
        if not any_process(module, what is not None):
            return None
        return what or "the state of another process non-finite"


class StateSnapshot:
    """A copy of a module's state dict and its optimizers' state, taken before a step changes
    them and put back when the step turns out to have produced a NaN or inf, so that
    ``last_good.ckpt`` holds the state before that step (``nan_guard=step``)."""

    def __init__(self) -> None:
        self._module: dict[str, Any] | None = None
        self._optimizers: list[dict[str, Any]] = []

    def take(self, module: nn.Module, optimizers: Sequence[Optimizer]) -> None:
        # deepcopy clones the tensors and keeps the state dict's version metadata.
        self._module = copy.deepcopy(module.state_dict())
        self._optimizers = [copy.deepcopy(optimizer.state_dict()) for optimizer in optimizers]

    def restore(self, module: nn.Module, optimizers: Sequence[Optimizer]) -> bool:
        """Put the copy back; False if none was taken."""
        if self._module is None:
            return False
        module.load_state_dict(self._module)
        for optimizer, state in zip(optimizers, self._optimizers, strict=True):
            optimizer.load_state_dict(state)
        return True
