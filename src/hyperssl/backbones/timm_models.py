"""Any timm model by name (``backbone=timm backbone.model_name=<name>``), headless."""

import timm
from torch import nn

from hyperssl.backbones.registry import register_backbone
from hyperssl.backbones.stems import use_small_image_stem
from hyperssl.errors import ConfigError


@register_backbone("timm")
def timm_model(
    image_size: int, small_stem: bool, model_name: str | None = None, **kwargs
) -> nn.Module:
    if not model_name:
        raise ConfigError("backbone.model_name", "is required for backbone=timm", "any timm name")
    if model_name not in timm.list_models():
        raise ConfigError(
            "backbone.model_name", f"unknown timm model {model_name!r}", "see timm.list_models()"
        )
    # Weights are never fetched at run time; pretrained weights come in through the checkpoint.
    model = timm.create_model(model_name, pretrained=False, num_classes=0, **kwargs)
    if small_stem:
        use_small_image_stem(model)
    return model
