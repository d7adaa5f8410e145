"""Backbones: ``create_backbone(name, image_size, small_stem=None, **kwargs)``."""

from hyperssl.backbones import convnet, resnet, timm_models  # noqa: F401  (registration)
from hyperssl.backbones.registry import (
    available_backbones,
    create_backbone,
    register_backbone,
    wants_small_stem,
)

__all__ = ["available_backbones", "create_backbone", "register_backbone", "wants_small_stem"]
