"""torchvision ResNets, headless, with the small-image stem for small inputs."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn
from torchvision import models

from hyperssl.backbones.registry import BackboneConfig, register_backbone
from hyperssl.backbones.stems import use_small_image_stem


@dataclass
class ResNetKwargs:
    """torchvision's ResNet arguments; ResNet-18's basic blocks take only the default groups and
    width_per_group (ResNeXt and wide ResNet-50s change them)."""

    zero_init_residual: bool = False
    groups: int = 1
    width_per_group: int = 64


@dataclass
class ResNetConfig(BackboneConfig):
    kwargs: ResNetKwargs = field(default_factory=ResNetKwargs)


def _headless_resnet(
    name: str, constructor: Callable[..., models.ResNet], small_stem: bool, **kwargs: Any
) -> nn.Module:
    model = constructor(weights=None, **kwargs)
    model.num_features = model.fc.in_features
    model.fc = nn.Identity()
    if small_stem:
        use_small_image_stem(model, name)
    return model


@register_backbone("resnet18", ResNetConfig)
def resnet18(image_size: int, small_stem: bool, **kwargs: Any) -> nn.Module:
    return _headless_resnet("resnet18", models.resnet18, small_stem, **kwargs)


@register_backbone("resnet50", ResNetConfig)
def resnet50(image_size: int, small_stem: bool, **kwargs: Any) -> nn.Module:
    return _headless_resnet("resnet50", models.resnet50, small_stem, **kwargs)
