"""The papers' backbones: VGG-11/16/19 (BN), SimpleFNN, LeNet-5 and the MHE paper's 9-layer CNN.

Parameter counts are recomputed here from the published layouts, independently of the builders.
"""

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from hyperssl import ConfigError
from hyperssl.backbones import BACKBONES, create_backbone

PAPER_BACKBONES = ["vgg11", "vgg16", "vgg19", "simple_fnn", "lenet5", "cnn9"]
# torchvision's VGG configurations A, D, E: conv widths, "M" = 2x2 max-pool.
VGG_CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"]
    + [512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M"]
    + [512, 512, 512, 512, "M"],
}


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def vgg_count(cfg: list, scale: dict[int, int] | None = None, c_in: int = 3) -> int:
    """Conv (with bias) + BN (weight, bias) parameters of a VGG cfg, widths mapped by ``scale``."""
    total = 0
    for item in cfg:
        if item != "M":
            c_out = (scale or {}).get(item, item)
            total += conv(c_in, c_out, 3) + 2 * c_out
            c_in = c_out
    return total


def test_paper_backbones_are_registered():
    assert set(PAPER_BACKBONES) <= set(BACKBONES.names())


@pytest.mark.parametrize(
    ("name", "features"),
    [("vgg11", 512), ("vgg16", 512), ("vgg19", 512), ("simple_fnn", 300), ("lenet5", 84)]
    + [("cnn9", 256)],
)
def test_paper_backbone_maps_32px_images_to_num_features(name, features):
    backbone = create_backbone(name, image_size=32)
    assert backbone.num_features == features
    assert backbone(torch.randn(2, 3, 32, 32)).shape == (2, features)


@pytest.mark.parametrize("name", ["vgg11", "vgg16", "vgg19"])
def test_vgg_parameter_count_is_the_bn_conv_stack(name):
    assert count(create_backbone(name, image_size=32)) == vgg_count(VGG_CFGS[name])


def test_vgg11_counts_9_225_984_parameters():
    assert count(create_backbone("vgg11", image_size=32)) == 9_225_984


@pytest.mark.parametrize(("name", "config"), [("vgg11", "A"), ("vgg16", "D"), ("vgg19", "E")])
def test_vgg_conv_stack_is_torchvision_vgg_bn_features(name, config):
    # The ``features`` of torchvision's vgg*_bn, without building its 100M-parameter classifier.
    reference = make_layers(cfgs[config], batch_norm=True).eval()
    backbone = create_backbone(name, image_size=32).eval()
    backbone.features.load_state_dict(reference.state_dict())
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = reference(images).flatten(1)  # 1x1 maps after five pools
        torch.testing.assert_close(backbone(images), expected)


@pytest.mark.parametrize(
    ("width", "widths"),
    [
        ("A", (16, 32, 64, 128)),
        ("B", (32, 64, 128, 256)),
        ("C", (64, 128, 256, 512)),
        ("D", (128, 256, 512, 1024)),
        ("16/32/64/128", (16, 32, 64, 128)),
        ([32, 64, 128, 256], (32, 64, 128, 256)),
    ],
)
def test_vgg11_width_variants_scale_every_stage(width, widths):
    backbone = create_backbone("vgg11", image_size=32, width=width)
    scale = dict(zip((64, 128, 256, 512), widths, strict=True))
    assert backbone.num_features == widths[-1]
    assert count(backbone) == vgg_count(VGG_CFGS["vgg11"], scale)
    assert backbone(torch.randn(1, 3, 32, 32)).shape == (1, widths[-1])


def test_vgg11_widest_variant_has_1024_features_in_the_last_two_stages():
    backbone = create_backbone("vgg11", image_size=32, width="256/512/1024/1024")
    scale = {64: 256, 128: 512, 256: 1024, 512: 1024}
    assert backbone.num_features == 1024
    assert count(backbone) == vgg_count(VGG_CFGS["vgg11"], scale)


def test_vgg16_width_variant_keeps_its_depth():
    backbone = create_backbone("vgg16", image_size=32, width="A")
    scale = {64: 16, 128: 32, 256: 64, 512: 128}
    assert count(backbone) == vgg_count(VGG_CFGS["vgg16"], scale)


@pytest.mark.parametrize("width", ["F", "16/32/64", [16, 32, 0, 64], "a/b/c/d"])
def test_vgg_bad_width_names_the_key(width):
    with pytest.raises(ConfigError) as error:
        create_backbone("vgg11", image_size=32, width=width)
    assert error.value.key == "backbone.kwargs.width"


@pytest.mark.parametrize("width", ["F", [16, 32, 0, 64]])
def test_vgg_bad_width_is_rejected_by_the_schema_before_anything_is_built(width):
    with pytest.raises(ConfigError) as error:
        BACKBONES.validate("vgg16", {"kwargs": {"width": width}}, None, "backbone")
    assert error.value.key == "backbone.kwargs.width"


def test_vgg_rejects_images_too_small_for_five_pools():
    with pytest.raises(ConfigError, match="at least 32 pixels, got image_size 28"):
        create_backbone("vgg11", image_size=28)


def test_vgg_average_pools_larger_images_to_num_features():
    backbone = create_backbone("vgg11", image_size=64, width="A")
    assert backbone(torch.randn(2, 3, 64, 64)).shape == (2, 128)


def vgg11_bn_one(**options) -> nn.Module:
    """The spherization reference's Fashion-MNIST VGG-11 without its output layer."""
    return create_backbone(
        "vgg11", image_size=32, in_channels=1, pool="avg", hidden=[4096, 4096], **options
    )


def test_vgg11_bn_one_counts_the_reference_one_channel_stack_and_4096_4096_mlp():
    # GIST-IRR/spherization_layer models/vgg.py vgg11_bn_one without its output layer 4096 -> 10.
    backbone = vgg11_bn_one()
    expected = vgg_count(VGG_CFGS["vgg11"], c_in=1) + linear(512, 4096) + linear(4096, 4096)
    assert count(backbone) == expected
    assert backbone.num_features == 4096
    pools = [m for m in backbone.features if isinstance(m, nn.AvgPool2d | nn.MaxPool2d)]
    assert len(pools) == 5 and all(isinstance(m, nn.AvgPool2d) for m in pools)


def test_vgg_average_pool_between_stages_is_the_mean_of_each_2x2_window():
    torch.manual_seed(0)
    backbone = create_backbone("vgg11", image_size=32, pool="avg").eval()
    images = torch.randn(2, 3, 32, 32)
    first_stage = backbone.features[:3](images)
    torch.testing.assert_close(
        backbone.features[3](first_stage),
        first_stage.unfold(2, 2, 2).unfold(3, 2, 2).mean((-1, -2)),
    )


def test_vgg_mlp_is_linear_relu_dropout_per_layer_and_drops_only_while_training():
    torch.manual_seed(0)
    backbone = vgg11_bn_one(dropout=0.5)
    kinds = [type(m) for m in backbone.head]
    assert kinds == [nn.Linear, nn.ReLU, nn.Dropout] * 2
    images = torch.randn(4, 1, 32, 32)
    backbone.eval()
    with torch.no_grad():
        torch.testing.assert_close(backbone(images), backbone(images))
        assert backbone(images).min() >= 0
        backbone.train()
        assert (backbone(images) == 0).float().mean() > 0.4  # ReLU zeros plus half dropped


def test_vgg_without_last_relu_feeds_the_last_layers_pre_activations():
    torch.manual_seed(0)
    plain = vgg11_bn_one().eval()
    spherizable = vgg11_bn_one(last_relu=False).eval()
    spherizable.load_state_dict(plain.state_dict())
    assert [type(m) for m in spherizable.head] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    images = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        pre_activations = spherizable(images)
        assert pre_activations.min() < 0
        torch.testing.assert_close(plain(images), pre_activations.relu())


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"pool": "min"}, "backbone.kwargs.pool"),
        ({"hidden": [4096, 0]}, "backbone.kwargs.hidden"),
        ({"dropout": 1.0}, "backbone.kwargs.dropout"),
        ({"last_relu": False}, "backbone.kwargs.last_relu"),
        ({"in_channels": 2}, "backbone.kwargs.in_channels"),
    ],
)
def test_vgg_bad_option_names_its_key(kwargs, key):
    with pytest.raises(ConfigError) as error:
        BACKBONES.validate("vgg11", {"kwargs": kwargs}, None, "backbone")
    assert error.value.key == key


@pytest.mark.parametrize(("size", "channels"), [(32, 3), (28, 3), (28, 1)])
def test_simple_fnn_is_the_reference_500_300_layout_on_any_input(size, channels):
    backbone = create_backbone("simple_fnn", image_size=size, in_channels=channels)
    n_in = channels * size * size
    assert count(backbone) == linear(n_in, 500) + linear(500, 300)
    features = backbone(torch.randn(2, channels, size, size))
    assert features.shape == (2, 300)
    assert features.min() >= 0  # the last layer is followed by its ReLU


def test_simple_fnn_on_mnist_has_the_reference_parameter_count():
    # GIST-IRR/spherization_layer models/basic.py SimpleFNN without its output layer 300 -> 10.
    backbone = create_backbone("simple_fnn", image_size=28, in_channels=1)
    assert count(backbone) == 784 * 500 + 500 + 500 * 300 + 300 == 542_800


@pytest.mark.parametrize("name", ["simple_fnn", "lenet5"])
def test_without_last_relu_the_features_are_the_last_layers_pre_activations(name):
    torch.manual_seed(0)
    plain = create_backbone(name, image_size=28, in_channels=1)
    spherizable = create_backbone(name, image_size=28, in_channels=1, last_relu=False)
    spherizable.load_state_dict(plain.state_dict())
    images = torch.randn(8, 1, 28, 28)
    pre_activations = spherizable(images)
    assert pre_activations.min() < 0
    torch.testing.assert_close(plain(images), pre_activations.relu())


@pytest.mark.parametrize(
    ("name", "size"), [("simple_fnn", 28), ("lenet5", 28), ("cnn9", 28)] + [("vgg11", 32)]
)
def test_grayscale_network_reads_replicated_rgb_as_its_one_channel(name, size):
    torch.manual_seed(0)
    backbone = create_backbone(name, image_size=size, in_channels=1).eval()
    gray = torch.randn(2, 1, size, size)
    with torch.no_grad():
        torch.testing.assert_close(backbone(gray.expand(-1, 3, -1, -1)), backbone(gray))


@pytest.mark.parametrize(("size", "side"), [(28, 5), (32, 6)])
def test_lenet5_pads_conv1_so_28px_digits_end_in_16x5x5_maps(size, side):
    backbone = create_backbone("lenet5", image_size=size)
    expected = conv(3, 6, 5) + conv(6, 16, 5) + linear(16 * side * side, 120) + linear(120, 84)
    assert count(backbone) == expected
    assert backbone.layers.conv1.padding == (2, 2)
    assert backbone(torch.randn(2, 3, size, size)).shape == (2, 84)


def test_lenet5_on_28px_grayscale_counts_the_reference_parameters():
    # GIST-IRR/spherization_layer models/basic.py LeNet5 without its output layer 84 -> 10.
    assert count(create_backbone("lenet5", image_size=28, in_channels=1)) == 61_706 - 850


def test_lenet5_rejects_images_too_small_for_two_conv_pool_rounds():
    with pytest.raises(ConfigError, match="lenet5 needs images of at least 12 pixels"):
        create_backbone("lenet5", image_size=11)


@pytest.mark.parametrize("name", ["simple_fnn", "lenet5", "vgg11"])
def test_linear_classifier_on_pre_activations_is_refused_naming_last_relu(name):
    run = OmegaConf.create({"method": {"classifier": "linear"}})
    values = {"kwargs": {"last_relu": False, **({"hidden": [64]} if name == "vgg11" else {})}}
    with pytest.raises(ConfigError) as error:
        BACKBONES.validate(name, values, run, "backbone")
    assert error.value.key == "backbone.kwargs.last_relu"
    assert "method.classifier=linear" in str(error.value)
    run.method.classifier = "spheric"
    assert BACKBONES.validate(name, values, run, "backbone").kwargs.last_relu is False


def test_small_nets_refuse_two_input_channels():
    with pytest.raises(ConfigError) as error:
        BACKBONES.validate("lenet5", {"kwargs": {"in_channels": 2}}, None, "backbone")
    assert error.value.key == "backbone.kwargs.in_channels"


def test_cnn9_parameter_count_is_nine_bn_convs_and_fc6():
    widths = [3] + [64] * 3 + [128] * 3 + [256] * 3
    convs = sum(
        conv(c_in, c_out, 3, bias=False)
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
    )
    batch_norms = sum(2 * c for c in widths[1:])
    fc6 = conv(256, 256, 4)
    assert count(create_backbone("cnn9", image_size=32)) == convs + batch_norms + fc6 == 2_970_176


def test_cnn9_fc6_is_a_4x4_valid_conv_over_the_last_stage():
    backbone = create_backbone("cnn9", image_size=32)
    maps = backbone.stages(torch.randn(2, 3, 32, 32))
    assert maps.shape == (2, 256, 4, 4)
    assert backbone.fc6.kernel_size == (4, 4) and backbone.fc6.padding == (0, 0)
    torch.testing.assert_close(backbone(torch.zeros(1, 3, 32, 32))[0], backbone.fc6.bias)


def test_cnn9_layer_names_select_stages_by_prefix():
    backbone = create_backbone("cnn9", image_size=32)
    names = [name for name, m in backbone.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    expected = [f"stages.{s}.{i}.conv" for s in range(3) for i in range(3)] + ["fc6"]
    assert names == expected


@pytest.mark.parametrize("name", PAPER_BACKBONES)
def test_small_stem_setting_does_not_change_paper_backbones(name):
    small = create_backbone(name, image_size=32, small_stem=True)
    large = create_backbone(name, image_size=32, small_stem=False)
    shapes = {key: value.shape for key, value in small.state_dict().items()}
    assert shapes == {key: value.shape for key, value in large.state_dict().items()}
