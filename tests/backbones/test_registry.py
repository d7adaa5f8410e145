import pytest
import torch
from torch import nn

from hyperssl import ConfigError
from hyperssl.backbones import create_backbone


@pytest.mark.parametrize("name,features", [("resnet18", 512), ("convnet4", 256)])
def test_backbone_maps_images_to_num_features(name, features):
    backbone = create_backbone(name, image_size=32)
    assert backbone.num_features == features
    assert backbone(torch.randn(2, 3, 32, 32)).shape == (2, features)


def test_small_images_get_the_small_stem():
    small = create_backbone("resnet18", image_size=32)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, nn.Identity)


def test_large_images_keep_the_imagenet_stem():
    large = create_backbone("resnet18", image_size=224)
    assert large.conv1.kernel_size == (7, 7) and isinstance(large.maxpool, nn.MaxPool2d)


def test_stem_can_be_forced_whatever_the_size():
    forced = create_backbone("resnet18", image_size=224, small_stem=True)
    assert forced.conv1.stride == (1, 1)


def test_any_timm_model_by_name_gets_the_small_stem():
    backbone = create_backbone("timm", image_size=32, model_name="resnet18")
    assert backbone.num_features == 512
    assert backbone.conv1.stride == (1, 1)
    assert backbone(torch.randn(2, 3, 32, 32)).shape == (2, 512)


def test_unknown_backbone_names_the_allowed_ones():
    with pytest.raises(
        ConfigError, match=r"backbone.name: unknown backbone 'resnet19'; allowed: .*resnet18"
    ):
        create_backbone("resnet19", image_size=32)


def test_unknown_timm_model_is_rejected():
    with pytest.raises(ConfigError, match="unknown timm model 'not_a_model'"):
        create_backbone("timm", image_size=32, model_name="not_a_model")
