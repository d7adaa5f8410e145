"""Opt-in speed settings of a method: ``torch.compile`` and the channels-last memory layout."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import torch
import torch._dynamo
from torch import Tensor, nn


def to_memory_format(images: Tensor, memory_format: torch.memory_format) -> Tensor:
    """Images [B, C, H, W] in ``memory_format`` (a no-op when they already are)."""
    return images.contiguous(memory_format=memory_format)


def compile_modules(model: nn.Module, exclude: Iterable[str] = ()) -> list[str]:
    """``torch.compile`` every child module of ``model`` with parameters (backbone, projector,
    predictor and their momentum copies), in place: parameter names and checkpoints are those of
    the eager modules. Returns the names compiled.

    Falls back to eager execution, with a warning, where TorchDynamo is not supported (e.g. an
    unsupported Python) and, through ``suppress_errors``, when compiling a graph fails at its
    first call (e.g. no C++ compiler for the CPU backend).
    """
    if not torch._dynamo.is_dynamo_supported():
        warnings.warn(
            "compile=true: torch.compile is not supported on this platform; training eagerly",
            stacklevel=2,
        )
        return []
    torch._dynamo.config.suppress_errors = True
    skipped = set(exclude)
    names = [
        name
        for name, module in model.named_children()
        if name not in skipped and any(True for _ in module.parameters())
    ]
    for name in names:
        getattr(model, name).compile()
    return names
