"""The small networks of the papers we reproduce, headless (the method adds the classifier).

- ``simple_fnn``: the spherization paper's SimpleFNN, 784-500-300 then the classifier, as its
  reference code builds it (GIST-IRR/spherization_layer, ``models/basic.py`` ``SimpleFNN`` and
  ``models/spheric.py`` ``SphericFNN``: fc1 784->500, fc2 500->300, output 300->10).
- ``lenet5``: LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, as in the same reference
  (``LeNet5`` / ``SphericCNN``: conv1 5x5 padded by 2, so 28x28 digits end in 16x5x5 maps).
- ``cnn9``: the 9-conv CIFAR network of the MHE paper (Liu et al., 2018).

``in_channels`` and ``last_relu`` (simple_fnn, lenet5) are described in
:mod:`hyperssl.backbones.paper_kwargs`.

Layers carry names (``fc1``, ``conv2``, ``stages.0.0.conv``, ``fc6``) because the MHE regulariser
selects the layers it constrains by name prefix. None of them has a strided stem, so the
small-image stem rule does not apply; their input size is fixed by ``image_size``.
"""

from collections import OrderedDict
from dataclasses import dataclass, field

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.backbones.paper_kwargs import (
    GrayscaleInput,
    GrayscaleKwargs,
    SpherizableKwargs,
    input_layers,
)
from hyperssl.backbones.registry import BackboneConfig, register_backbone
from hyperssl.errors import ConfigError

SIMPLE_FNN_WIDTHS = (500, 300)
LENET5_KERNEL = 5
LENET5_CONV1_PADDING = 2
CNN9_WIDTHS = (64, 128, 256)
CNN9_CONVS_PER_STAGE = 3
CNN9_FC6_WIDTH = 256


class SimpleFNN(nn.Module):
    """Flatten, then fc1 (500) -ReLU- fc2 (300) [-ReLU]: [B, C, S, S] -> [B, 300].

    ``last_relu=False`` leaves fc2's pre-activations for the spherization layer.
    """

    def __init__(self, image_size: int, in_channels: int, last_relu: bool = True) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict(input_layers(in_channels))
        layers["flatten"] = nn.Flatten()
        width = in_channels * image_size * image_size
        for i, out in enumerate(SIMPLE_FNN_WIDTHS, start=1):
            layers[f"fc{i}"] = nn.Linear(width, out)
            if i < len(SIMPLE_FNN_WIDTHS) or last_relu:
                layers[f"relu{i}"] = nn.ReLU(inplace=True)
            width = out
        self.layers = nn.Sequential(layers)
        self.num_features = width

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images)


def _lenet5_map_size(image_size: int) -> int:
    """Side of the last feature map: conv1 keeps the size (5x5, padded by 2), a 2x2 max-pool,
    a valid 5x5 conv2, a 2x2 max-pool."""
    after_conv1 = image_size + 2 * LENET5_CONV1_PADDING - LENET5_KERNEL + 1
    return (after_conv1 // 2 - LENET5_KERNEL + 1) // 2


class LeNet5(nn.Module):
    """conv5x5(6, pad 2)-ReLU-pool, conv5x5(16)-ReLU-pool, 120-ReLU, 84 [-ReLU]: [B, C, S, S] ->
    [B, 84].

    For 28x28 inputs the last map is 16x5x5 (the reference's, and LeCun's layout, whose 32x32
    inputs were the 28x28 digits padded by 2); for 32x32 ones it is 16x6x6. ``last_relu=False``
    leaves fc2's pre-activations for the spherization layer.
    """

    def __init__(self, image_size: int, in_channels: int, last_relu: bool = True) -> None:
        super().__init__()
        side = _lenet5_map_size(image_size)
        if side < 1:
            raise ConfigError(
                "backbone.name",
                f"lenet5 needs images of at least 12 pixels, got image_size {image_size}",
                "a crop / data.image_size >= 12",
            )
        layers: OrderedDict[str, nn.Module] = OrderedDict(input_layers(in_channels))
        layers.update(
            conv1=nn.Conv2d(in_channels, 6, LENET5_KERNEL, padding=LENET5_CONV1_PADDING),
            relu1=nn.ReLU(inplace=True),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(6, 16, LENET5_KERNEL),
            relu2=nn.ReLU(inplace=True),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc1=nn.Linear(16 * side * side, 120),
            relu3=nn.ReLU(inplace=True),
            fc2=nn.Linear(120, 84),
        )
        if last_relu:
            layers["relu4"] = nn.ReLU(inplace=True)
        self.layers = nn.Sequential(layers)
        self.num_features = 84

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images)


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    # No conv bias: the BatchNorm that follows has its own.
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            bn=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(inplace=True),
        )
    )


class CNN9(nn.Module):
    """The MHE paper's CIFAR network without its classifier: [B, C, S, S] -> [B, 256].

    Three stages of three 3x3 conv-BN-ReLU layers (64, 128, 256 channels), each followed by a
    2x2 max-pool (32 -> 16 -> 8 -> 4), then ``fc6``: a valid conv over the whole remaining map
    (4x4 for 32x32 inputs) to 256 channels, without BN or ReLU; its output is the feature vector.
    Layers are named ``stages.<stage>.<layer>.conv`` and ``fc6``.
    """

    def __init__(self, image_size: int, in_channels: int) -> None:
        super().__init__()
        side = image_size // 2 ** len(CNN9_WIDTHS)
        if side < 1:
            raise ConfigError(
                "backbone.name",
                f"cnn9 needs images of at least 8 pixels, got image_size {image_size}",
                "a crop / data.image_size >= 8",
            )
        self.grayscale = GrayscaleInput() if in_channels == 1 else nn.Identity()
        stages = []
        channels = in_channels
        for width in CNN9_WIDTHS:
            layers = []
            for _ in range(CNN9_CONVS_PER_STAGE):
                layers.append(_conv_bn_relu(channels, width))
                channels = width
            stages.append(nn.Sequential(*layers, nn.MaxPool2d(2)))
        self.stages = nn.Sequential(*stages)
        self.fc6 = nn.Conv2d(channels, CNN9_FC6_WIDTH, kernel_size=side)
        self.num_features = CNN9_FC6_WIDTH

    def forward(self, images: Tensor) -> Tensor:
        return self.fc6(self.stages(self.grayscale(images))).flatten(1)


@dataclass
class SmallNetConfig(BackboneConfig):
    kwargs: GrayscaleKwargs = field(default_factory=GrayscaleKwargs)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.kwargs.check(cfg, key)


@dataclass
class SpherizableNetConfig(SmallNetConfig):
    """SimpleFNN and LeNet-5: ``kwargs.last_relu: false`` is for a spherized classifier."""

    kwargs: SpherizableKwargs = field(default_factory=SpherizableKwargs)


@register_backbone("simple_fnn", SpherizableNetConfig)
def simple_fnn(image_size: int, small_stem: bool, in_channels: int, last_relu: bool) -> nn.Module:
    """The spherization paper's SimpleFNN (784-500-300, 300 features; input size from the image
    size and ``in_channels``)."""
    return SimpleFNN(image_size, in_channels, last_relu)


@register_backbone("lenet5", SpherizableNetConfig)
def lenet5(image_size: int, small_stem: bool, in_channels: int, last_relu: bool) -> nn.Module:
    """LeNet-5 (LeCun et al. 1998), 84 features; the spherization paper's MNIST CNN."""
    return LeNet5(image_size, in_channels, last_relu)


@register_backbone("cnn9", SmallNetConfig)
def cnn9(image_size: int, small_stem: bool, in_channels: int) -> nn.Module:
    """The MHE paper's CIFAR network: 3 stages of 3 conv-BN-ReLU (64/128/256) + fc6 (256
    features)."""
    return CNN9(image_size, in_channels)
