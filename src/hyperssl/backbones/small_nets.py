"""The small networks of the papers we reproduce, headless (the method adds the classifier).

- ``simple_fnn``: the spherization paper's SimpleFNN, the layout of Hinton et al.'s (2006) deep
  belief net on MNIST (784-500-500-2000, then the classifier).
- ``lenet5``: LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, as in the spherization paper.
- ``cnn9``: the 9-conv CIFAR network of the MHE paper (Liu et al., 2018).

Layers carry names (``fc1``, ``conv2``, ``stages.0.0.conv``, ``fc6``) because the MHE regulariser
selects the layers it constrains by name prefix. None of them has a strided stem, so the
small-image stem rule does not apply; their input size is fixed by ``image_size``.
"""

from collections import OrderedDict
from dataclasses import dataclass, field

from torch import Tensor, nn

from hyperssl.backbones.registry import BackboneConfig, register_backbone
from hyperssl.errors import ConfigError

SIMPLE_FNN_WIDTHS = (500, 500, 2000)
LENET5_KERNEL = 5
CNN9_WIDTHS = (64, 128, 256)
CNN9_CONVS_PER_STAGE = 3
CNN9_FC6_WIDTH = 256


class SimpleFNN(nn.Module):
    """Flatten, then three Linear-ReLU layers: [B, C, S, S] -> [B, 2000]."""

    def __init__(self, image_size: int, in_channels: int) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        width = in_channels * image_size * image_size
        for i, out in enumerate(SIMPLE_FNN_WIDTHS, start=1):
            layers[f"fc{i}"] = nn.Linear(width, out)
            layers[f"relu{i}"] = nn.ReLU(inplace=True)
            width = out
        self.layers = nn.Sequential(layers)
        self.num_features = width

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images)


def _lenet5_map_size(image_size: int) -> int:
    """Side of the last feature map: two rounds of a valid 5x5 conv and a 2x2 max-pool."""
    size = image_size
    for _ in range(2):
        size = (size - LENET5_KERNEL + 1) // 2
    return size


class LeNet5(nn.Module):
    """conv5x5(6)-ReLU-pool, conv5x5(16)-ReLU-pool, 120-ReLU, 84-ReLU: [B, C, S, S] -> [B, 84].

    For 32x32 inputs the last map is 16x5x5 (LeCun's layout); for 28x28 ones it is 16x4x4.
    """

    def __init__(self, image_size: int, in_channels: int) -> None:
        super().__init__()
        side = _lenet5_map_size(image_size)
        if side < 1:
            raise ConfigError(
                "backbone.name",
                f"lenet5 needs images of at least 16 pixels, got image_size {image_size}",
                "a crop / data.image_size >= 16",
            )
        self.layers = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, 6, LENET5_KERNEL),
                relu1=nn.ReLU(inplace=True),
                pool1=nn.MaxPool2d(2),
                conv2=nn.Conv2d(6, 16, LENET5_KERNEL),
                relu2=nn.ReLU(inplace=True),
                pool2=nn.MaxPool2d(2),
                flatten=nn.Flatten(),
                fc1=nn.Linear(16 * side * side, 120),
                relu3=nn.ReLU(inplace=True),
                fc2=nn.Linear(120, 84),
                relu4=nn.ReLU(inplace=True),
            )
        )
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
        return self.fc6(self.stages(images)).flatten(1)


@dataclass
class SmallNetKwargs:
    in_channels: int = 3  # 1 for grayscale inputs (the papers' MNIST networks)


@dataclass
class SmallNetConfig(BackboneConfig):
    kwargs: SmallNetKwargs = field(default_factory=SmallNetKwargs)


@register_backbone("simple_fnn", SmallNetConfig)
def simple_fnn(image_size: int, small_stem: bool, in_channels: int) -> nn.Module:
    """The spherization paper's SimpleFNN (784-500-500-2000; input size from the image size)."""
    return SimpleFNN(image_size, in_channels)


@register_backbone("lenet5", SmallNetConfig)
def lenet5(image_size: int, small_stem: bool, in_channels: int) -> nn.Module:
    """LeNet-5 (LeCun et al. 1998), 84 features; the spherization paper's MNIST CNN."""
    return LeNet5(image_size, in_channels)


@register_backbone("cnn9", SmallNetConfig)
def cnn9(image_size: int, small_stem: bool, in_channels: int) -> nn.Module:
    """The MHE paper's CIFAR network: 3 stages of 3 conv-BN-ReLU (64/128/256) + fc6 (256
    features)."""
    return CNN9(image_size, in_channels)
