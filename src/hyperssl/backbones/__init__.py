"""Backbones by name: ``create_backbone(name, image_size, small_stem=None, **kwargs)``, one
registered module each (:mod:`hyperssl.backbones.registry`)."""

from hyperssl.backbones.registry import (
    BACKBONES,
    BackboneConfig,
    available_backbones,
    create_backbone,
    register_backbone,
    wants_small_stem,
)

__all__ = [
    "BACKBONES",
    "BackboneConfig",
    "available_backbones",
    "create_backbone",
    "register_backbone",
    "wants_small_stem",
]
