"""A four-stage conv net that trains in seconds on CPU: the quickstart's backbone."""

from dataclasses import dataclass, field

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.backbones.registry import BackboneConfig, register_backbone
from hyperssl.errors import require


class ConvNet4(nn.Module):
    """Four 3x3 conv-BN-ReLU stages (width, 2w, 4w, 8w), stride 2 from the second, average pool.

    For 32x32 inputs the feature maps are 32, 16, 8, 4 pixels wide; ``num_features`` is 8w.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        channels = [3, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for stage, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=1 if stage == 0 else 2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = channels[-1]

    def forward(self, images: Tensor) -> Tensor:
        return self.features(images)


@dataclass
class ConvNet4Kwargs:
    width: int = 32  # channels of the first stage; 8 x width features


@dataclass
class ConvNet4Config(BackboneConfig):
    """Four conv stages, 256 features at the default width: the quickstart backbone (seconds per
    epoch on CPU)."""

    kwargs: ConvNet4Kwargs = field(default_factory=ConvNet4Kwargs)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        width = self.kwargs.width
        require(width >= 1, f"{key}.kwargs.width", width, "an integer >= 1")


@register_backbone("convnet4", ConvNet4Config)
def convnet4(image_size: int, small_stem: bool, width: int) -> nn.Module:
    return ConvNet4(width=width)
