"""One registry for every backbone: a name, a builder, and one creation call.

A backbone maps images [B, 3, H, W] to features [B, F] and exposes ``num_features`` (F).
Adding one is a builder function decorated with :func:`register_backbone`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from hyperssl.errors import ConfigError

BackboneBuilder = Callable[..., nn.Module]
_BACKBONES: dict[str, BackboneBuilder] = {}

# Images at most this large get the small-image stem (3x3 stride-1 conv, no max-pool): a 7x7
# stride-2 conv followed by a max-pool would shrink a 32x32 image to 8x8 before the first block.
SMALL_STEM_MAX_SIZE = 64


def register_backbone(name: str) -> Callable[[BackboneBuilder], BackboneBuilder]:
    """Register ``builder(image_size, small_stem, **kwargs) -> nn.Module`` under ``name``."""

    def decorator(builder: BackboneBuilder) -> BackboneBuilder:
        if name in _BACKBONES:
            raise ValueError(f"backbone {name!r} is registered twice")
        _BACKBONES[name] = builder
        return builder

    return decorator


def available_backbones() -> list[str]:
    return sorted(_BACKBONES)


def wants_small_stem(image_size: int, small_stem: bool | None) -> bool:
    """The stem choice follows the input size (never the data set's name) unless forced."""
    return image_size <= SMALL_STEM_MAX_SIZE if small_stem is None else small_stem


def create_backbone(
    name: str, image_size: int, small_stem: bool | None = None, **kwargs: Any
) -> nn.Module:
    """Build the backbone ``name`` for inputs of ``image_size`` pixels.

    Returns a module mapping [B, 3, H, W] -> [B, F] with attribute ``num_features`` = F.
    """
    if name not in _BACKBONES:
        raise ConfigError(
            "backbone.name", f"unknown backbone {name!r}", ", ".join(available_backbones())
        )
    backbone = _BACKBONES[name](
        image_size=image_size, small_stem=wants_small_stem(image_size, small_stem), **kwargs
    )
    if not isinstance(getattr(backbone, "num_features", None), int):
        raise TypeError(f"backbone {name!r} does not expose an integer num_features")
    return backbone
