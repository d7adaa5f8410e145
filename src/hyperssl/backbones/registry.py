"""The backbone registry (``backbone=<name>``) and its one creation call, :func:`create_backbone`.

A backbone maps images [B, 3, H, W] to features [B, F] and exposes ``num_features`` (F). Adding one
is a builder ``builder(image_size, small_stem, **kwargs) -> nn.Module`` in its own module of this
package, registered with the schema of its config::

    @dataclass
    class ConvNet4Kwargs:
        width: int = 32

    @dataclass
    class ConvNet4Config(BackboneConfig):
        kwargs: ConvNet4Kwargs = field(default_factory=ConvNet4Kwargs)

    @register_backbone("convnet4", ConvNet4Config)
    def convnet4(image_size: int, small_stem: bool, width: int) -> nn.Module: ...

A schema types ``kwargs`` (the builder's keyword arguments, with their defaults) where it can, so
that ``backbone.kwargs.widht=3`` is an unknown key; :func:`create_backbone` fills the keyword
arguments a caller leaves out from those defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from torch import nn

from hyperssl.errors import require
from hyperssl.registry import PartConfig, Registry

BackboneBuilder = Callable[..., nn.Module]
BACKBONES: Registry[BackboneBuilder] = Registry("backbone", "backbone", "hyperssl.backbones")
register_backbone = BACKBONES.register

# Images at most this large get the small-image stem (3x3 stride-1 conv, no max-pool): a 7x7
# stride-2 conv followed by a max-pool would shrink a 32x32 image to 8x8 before the first block.
SMALL_STEM_MAX_SIZE = 64


@dataclass
class BackboneConfig(PartConfig):
    """The keys of every backbone; a backbone's schema types ``kwargs`` (its builder's keyword
    arguments) where it can. Saved checkpoints hold these keys: keep their names."""

    name: str = MISSING
    model_name: str | None = None  # backbone=timm: any timm model name
    small_stem: bool | None = None  # None: chosen by the crop size (<= 64 px gets the small stem)
    kwargs: dict[str, Any] = field(default_factory=dict)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(
            self.model_name is None,
            f"{key}.model_name",
            self.model_name,
            f"null: backbone {self.name!r} takes no model name",
        )


def available_backbones() -> list[str]:
    """The registered backbone names, sorted."""
    return BACKBONES.names()


def wants_small_stem(image_size: int, small_stem: bool | None) -> bool:
    """The stem choice follows the input size (never the data set's name) unless forced."""
    return image_size <= SMALL_STEM_MAX_SIZE if small_stem is None else small_stem


def create_backbone(
    name: str, image_size: int, small_stem: bool | None = None, **kwargs: Any
) -> nn.Module:
    """Build the backbone ``name`` for inputs of ``image_size`` pixels; ``kwargs`` override the
    defaults of its schema's ``kwargs`` (and carry ``model_name`` for timm).

    Returns a module mapping [B, 3, H, W] -> [B, F] with attribute ``num_features`` = F.
    """
    builder = BACKBONES.get(name)
    defaults = OmegaConf.to_container(BACKBONES.config_node(name).kwargs)
    backbone = builder(
        image_size=image_size,
        small_stem=wants_small_stem(image_size, small_stem),
        **{**defaults, **kwargs},
    )
    if not isinstance(getattr(backbone, "num_features", None), int):
        raise TypeError(f"backbone {name!r} does not expose an integer num_features")
    return backbone
