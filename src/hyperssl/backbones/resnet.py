"""torchvision ResNets, headless, with the small-image stem for small inputs."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig
from torch import nn
from torchvision import models

from hyperssl.backbones.registry import BackboneConfig, register_backbone
from hyperssl.backbones.stems import check_small_stem_padding, use_small_image_stem


@dataclass
class ResNetKwargs:
    """torchvision's ResNet arguments; ResNet-18's basic blocks take only the default groups and
    width_per_group (ResNeXt and wide ResNet-50s change them). ``small_stem_padding`` is the
    padding of the small-image stem's 3x3 conv (solo-learn's CIFAR stem: 2)."""

    zero_init_residual: bool = False
    groups: int = 1
    width_per_group: int = 64
    small_stem_padding: int = 1


@dataclass
class ResNetConfig(BackboneConfig):
    kwargs: ResNetKwargs = field(default_factory=ResNetKwargs)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        padding = self.kwargs.small_stem_padding
        check_small_stem_padding(padding, f"{key}.kwargs.small_stem_padding")


def _headless_resnet(
    name: str,
    constructor: Callable[..., models.ResNet],
    small_stem: bool,
    small_stem_padding: int,
    **kwargs: Any,
) -> nn.Module:
    model = constructor(weights=None, **kwargs)
    model.num_features = model.fc.in_features
    model.fc = nn.Identity()
    if small_stem:
        use_small_image_stem(model, name, small_stem_padding)
    return model


@register_backbone("resnet18", ResNetConfig)
def resnet18(image_size: int, small_stem: bool, **kwargs: Any) -> nn.Module:
    return _headless_resnet("resnet18", models.resnet18, small_stem, **kwargs)


@register_backbone("resnet50", ResNetConfig)
def resnet50(image_size: int, small_stem: bool, **kwargs: Any) -> nn.Module:
    return _headless_resnet("resnet50", models.resnet50, small_stem, **kwargs)
