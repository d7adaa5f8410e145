"""The backbone registry: every registered backbone builds from its schema's defaults, the small
image stem follows the image size, and the schemas type their builders' keyword arguments."""

import warnings

import pytest
import torch
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError
from torch import nn

from hyperssl import ConfigError
from hyperssl.backbones import BACKBONES, create_backbone
from hyperssl.backbones.stems import KeptStemWarning
from hyperssl.cli.errors import describe_bad_input


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_backbone_builds_from_its_defaults_and_maps_32px_images_to_num_features(name):
    node = BACKBONES.config_node(name)  # timm's default model_name is resnet18: small, offline
    model_name = {"model_name": node.model_name} if node.model_name else {}
    backbone = create_backbone(name, 32, node.small_stem, **node.kwargs, **model_name)
    features = backbone(torch.randn(2, 3, 32, 32))
    assert isinstance(backbone.num_features, int)
    assert features.shape == (2, backbone.num_features)


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_backbone_schema_validates_with_its_defaults(name):
    config = BACKBONES.validate(name, BACKBONES.config_node(name), None, "backbone")
    assert config.name == name


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


def test_timm_model_without_conv1_warns_that_it_keeps_its_own_stem():
    with pytest.warns(KeptStemWarning, match="'convnext_atto' has no conv1 .* keeps its own stem"):
        backbone = create_backbone("timm", image_size=32, model_name="convnext_atto")
    assert backbone.stem[0].stride == (4, 4)  # the patchify stem, untouched
    assert backbone(torch.randn(2, 3, 32, 32)).shape == (2, 320)


def test_timm_model_without_conv1_is_silent_when_the_small_stem_is_turned_off():
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeptStemWarning)
        create_backbone("timm", image_size=32, small_stem=False, model_name="convnext_atto")


def test_unknown_backbone_names_the_registered_ones():
    with pytest.raises(ConfigError) as error:
        create_backbone("resnet19", image_size=32)
    assert str(error.value) == (
        f"backbone.name: unknown backbone 'resnet19'; allowed: {', '.join(BACKBONES.names())}"
    )


def test_unknown_timm_model_is_rejected():
    with pytest.raises(ConfigError, match="unknown timm model 'not_a_model'"):
        create_backbone("timm", image_size=32, model_name="not_a_model")


def test_unknown_timm_model_is_rejected_by_the_schema():
    with pytest.raises(ConfigError) as error:
        BACKBONES.validate("timm", {"model_name": "not_a_model"}, None, "backbone")
    assert error.value.key == "backbone.model_name"


def test_model_name_of_a_backbone_that_takes_none_is_rejected():
    with pytest.raises(ConfigError) as error:
        BACKBONES.validate("convnet4", {"model_name": "resnet18"}, None, "backbone")
    assert error.value.key == "backbone.model_name"


def test_misspelt_kwarg_of_a_typed_backbone_is_an_unknown_key_listing_its_kwargs():
    config = OmegaConf.create({"backbone": BACKBONES.config_node("convnet4")})
    with pytest.raises(ConfigKeyError) as error:
        OmegaConf.merge(config, OmegaConf.from_dotlist(["backbone.kwargs.widht=3"]))
    assert describe_bad_input(error.value) == "backbone.kwargs.widht: unknown key; allowed: width"


def test_timm_kwargs_are_free_form():
    config = OmegaConf.merge(BACKBONES.config_node("timm"), {"kwargs": {"drop_rate": 0.1}})
    backbone = create_backbone("timm", 32, model_name=config.model_name, **config.kwargs)
    assert backbone.drop_rate == 0.1


def test_kwargs_left_out_take_the_schema_defaults():
    assert create_backbone("convnet4", image_size=32).num_features == 8 * 32
    assert create_backbone("convnet4", image_size=32, width=4).num_features == 8 * 4


@pytest.mark.parametrize(
    "saved",
    [
        {"name": "convnet4", "model_name": None, "small_stem": None, "kwargs": {"width": 8}},
        {"name": "vgg11", "model_name": None, "small_stem": None, "kwargs": {}},
        {"name": "timm", "model_name": "resnet18", "small_stem": True, "kwargs": {}},
    ],
)
def test_backbone_config_saved_by_earlier_runs_still_validates_and_builds(saved):
    config = BACKBONES.validate(saved["name"], saved, None, "backbone")
    model_name = {"model_name": saved["model_name"]} if saved["model_name"] else {}
    backbone = create_backbone(
        saved["name"], 32, saved["small_stem"], **saved["kwargs"], **model_name
    )
    assert config.name == saved["name"]
    assert backbone(torch.randn(1, 3, 32, 32)).shape == (1, backbone.num_features)


def _layer1_size(backbone: nn.Module, image_size: int) -> int:
    """The side of the first residual stage's maps for a square input of ``image_size``."""
    sizes = []
    backbone.layer1.register_forward_hook(lambda module, args, out: sizes.append(out.shape[-1]))
    backbone.eval()(torch.randn(1, 3, image_size, image_size))
    return sizes[0]


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_small_stem_padding_2_gives_solo_learns_34px_maps_for_32px_images(name):
    backbone = create_backbone(name, image_size=32, small_stem=True, small_stem_padding=2)
    assert backbone.conv1.padding == (2, 2) and backbone.conv1.kernel_size == (3, 3)
    assert _layer1_size(backbone, 32) == 34


def test_small_stem_keeps_32px_maps_at_its_default_padding():
    backbone = create_backbone("resnet18", image_size=32)
    assert backbone.conv1.padding == (1, 1)
    assert _layer1_size(backbone, 32) == 32


def test_timm_small_stem_takes_the_padding_too():
    backbone = create_backbone("timm", image_size=32, model_name="resnet18", small_stem_padding=2)
    assert backbone.conv1.padding == (2, 2)
    assert _layer1_size(backbone, 32) == 34


@pytest.mark.parametrize("name", ["resnet18", "timm"])
def test_negative_small_stem_padding_names_the_key(name):
    with pytest.raises(ConfigError) as error:
        BACKBONES.validate(name, {"kwargs": {"small_stem_padding": -1}}, None, "backbone")
    assert str(error.value).startswith("backbone.kwargs.small_stem_padding: got -1; allowed:")


def test_small_stem_padding_set_in_the_config_reaches_the_stem():
    node = OmegaConf.merge(
        BACKBONES.config_node("resnet18"),
        OmegaConf.from_dotlist(["small_stem=true", "kwargs.small_stem_padding=2"]),
    )
    backbone = create_backbone(node.name, 224, node.small_stem, **node.kwargs)
    assert backbone.conv1.padding == (2, 2)
