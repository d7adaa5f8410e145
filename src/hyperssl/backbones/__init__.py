"""Backbones: ``create_backbone(name, image_size, small_stem=None, **kwargs)``."""

# Imported for their @register_backbone side effect.
from hyperssl.backbones import convnet, resnet, small_nets, timm_models, vgg  # noqa: F401
from hyperssl.backbones.registry import (
    available_backbones,
    create_backbone,
    register_backbone,
    wants_small_stem,
)

__all__ = ["available_backbones", "create_backbone", "register_backbone", "wants_small_stem"]
