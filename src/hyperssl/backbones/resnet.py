"""torchvision ResNets, headless, with the small-image stem for small inputs."""

from torch import nn
from torchvision import models

from hyperssl.backbones.registry import register_backbone
from hyperssl.backbones.stems import use_small_image_stem


def _headless_resnet(constructor, small_stem: bool, **kwargs) -> nn.Module:
    model = constructor(weights=None, **kwargs)
    model.num_features = model.fc.in_features
    model.fc = nn.Identity()
    if small_stem:
        use_small_image_stem(model)
    return model


@register_backbone("resnet18")
def resnet18(image_size: int, small_stem: bool, **kwargs) -> nn.Module:
    return _headless_resnet(models.resnet18, small_stem, **kwargs)


@register_backbone("resnet50")
def resnet50(image_size: int, small_stem: bool, **kwargs) -> nn.Module:
    return _headless_resnet(models.resnet50, small_stem, **kwargs)
