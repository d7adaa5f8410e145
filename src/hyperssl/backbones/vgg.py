"""VGG-11/16/19 with BatchNorm, with the spherization paper's width, pooling and head variants.

The conv stack is torchvision's ``vgg*_bn().features`` (configurations A, D, E: 3x3 conv with bias,
BN, ReLU; a 2x2 max-pool after each of the five stages), built here from one table so that the
channel widths can change; at the default widths its ``state_dict`` is torchvision's. A global
average pool replaces torchvision's 7x7 pool: on 32x32 images the fifth pool leaves 1x1 maps, so
the features are the conv stack's output, flattened, as in the spherization paper's CIFAR VGG.

The options reproduce the spherization reference's networks (GIST-IRR/spherization_layer,
``models/vgg.py``):

- ``hidden: [4096, 4096]`` adds the MLP its ``VGGW`` / ``SphericVGGS`` put between the conv stack
  and the classifier (Linear, ReLU, Dropout per layer; torch's default Linear initialisation, as
  the reference replaces torchvision's classifier after its initialisation). With
  ``last_relu: false`` the last layer has neither ReLU nor Dropout: its pre-activations feed the
  spherization layer, as in ``SphericVGGS``.
- ``pool: avg`` average-pools between stages, as its one-channel ``*_bn_one`` Fashion-MNIST
  networks do; ``in_channels: 1`` makes them grayscale (:mod:`hyperssl.backbones.paper_kwargs`).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig
from torch import Tensor, nn

from hyperssl.backbones.paper_kwargs import GrayscaleInput, SpherizableKwargs
from hyperssl.backbones.registry import BackboneConfig, register_backbone
from hyperssl.errors import ConfigError, require

# Convolutions in each of the five stages (torchvision's configurations A, D and E).
VGG_DEPTHS: dict[str, tuple[int, ...]] = {
    "vgg11": (1, 1, 2, 2, 2),
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
}
# The spherization paper's width study (its `--width A..E`, C being VGG's own widths): the
# channels of the first four stages; the fifth stage keeps the fourth's width.
VGG_WIDTHS: dict[str, tuple[int, int, int, int]] = {
    "A": (16, 32, 64, 128),
    "B": (32, 64, 128, 256),
    "C": (64, 128, 256, 512),
    "D": (128, 256, 512, 1024),
    "E": (256, 512, 1024, 1024),
}
NUM_POOLS = 5
STAGE_POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def parse_width(
    width: str | Sequence[int] | None, key: str = "backbone.kwargs.width"
) -> tuple[int, int, int, int]:
    """The four stage widths from a letter (``"A"``..``"E"``), ``"16/32/64/128"`` or 4 ints;
    ConfigError naming ``key`` otherwise."""
    if width is None:
        return VGG_WIDTHS["C"]
    allowed = "A..E, 'w1/w2/w3/w4' or a list of 4 positive ints (default C = 64/128/256/512)"
    if isinstance(width, str):
        if width.upper() in VGG_WIDTHS:
            return VGG_WIDTHS[width.upper()]
        parts = width.split("/")
    else:
        parts = list(width)
    try:
        widths = tuple(int(part) for part in parts)
    except (TypeError, ValueError):
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise ConfigError(key, f"got {width!r}", allowed)
    return widths


class VGG(nn.Module):
    """VGG conv stack (BN after every conv), global average pool, optional MLP: [B, C, H, W] ->
    [B, F].

    ``num_features`` F is the width of the last hidden layer, or of the last stage without one
    (512 at the default widths).
    """

    def __init__(
        self,
        depths: Sequence[int],
        widths: Sequence[int],
        in_channels: int,
        pool: str = "max",
        hidden: Sequence[int] = (),
        dropout: float = 0.5,
        last_relu: bool = True,
    ) -> None:
        super().__init__()
        self.grayscale = GrayscaleInput() if in_channels == 1 else nn.Identity()
        stage_widths = [*widths, widths[-1]]
        layers: list[nn.Module] = []
        channels = in_channels
        for depth, width in zip(depths, stage_widths, strict=True):
            for _ in range(depth):
                layers += [
                    nn.Conv2d(channels, width, kernel_size=3, padding=1),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
                channels = width
            layers.append(STAGE_POOLS[pool](kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self._init_weights()  # before the head, which keeps torch's default init (see above)
        head: list[nn.Module] = []
        for index, width in enumerate(hidden):
            head.append(nn.Linear(channels, width))
            if index < len(hidden) - 1 or last_relu:
                head += [nn.ReLU(inplace=True), nn.Dropout(dropout)]
            channels = width
        self.head = nn.Sequential(*head)
        self.num_features = channels

    def _init_weights(self) -> None:
        # torchvision's VGG initialisation, so that both stacks start from the same distribution.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.pool(self.features(self.grayscale(images))))


def build_vgg(name: str, image_size: int, width: str | Sequence[int] | None, **options: Any) -> VGG:
    if image_size < 2**NUM_POOLS:
        raise ConfigError(
            "backbone.name",
            f"{name} halves the image {NUM_POOLS} times and needs at least {2**NUM_POOLS} "
            f"pixels, got image_size {image_size}",
            f"a crop / data.image_size >= {2**NUM_POOLS}",
        )
    return VGG(VGG_DEPTHS[name], parse_width(width), **options)


@dataclass
class VGGKwargs(SpherizableKwargs):
    # A letter A..E, "w1/w2/w3/w4" or 4 ints (None: C, VGG's own widths); see parse_width.
    width: Any = None
    pool: str = "max"  # between stages: max (torchvision's) or avg (the reference's *_bn_one)
    hidden: list[int] = field(default_factory=list)  # MLP after the conv stack, e.g. [4096, 4096]
    dropout: float = 0.5  # after each hidden layer's ReLU

    def check(self, cfg: DictConfig | None, key: str) -> None:
        super().check(cfg, key)
        parse_width(self.width, f"{key}.kwargs.width")
        require(self.pool in STAGE_POOLS, f"{key}.kwargs.pool", self.pool, "max or avg")
        require(
            all(width >= 1 for width in self.hidden),
            f"{key}.kwargs.hidden",
            list(self.hidden),
            "a list of positive widths ([] for none)",
        )
        require(0 <= self.dropout < 1, f"{key}.kwargs.dropout", self.dropout, "in [0, 1)")
        require(
            self.last_relu or bool(self.hidden),
            f"{key}.kwargs.last_relu",
            self.last_relu,
            "true without hidden layers (false drops the last hidden layer's ReLU: set "
            "backbone.kwargs.hidden, e.g. [4096, 4096])",
        )


@dataclass
class VGGConfig(BackboneConfig):
    """VGG with BatchNorm, CIFAR-sized, headless (global pooled 512 features at the default
    widths); ``kwargs.width`` scales it, ``kwargs.hidden`` adds the reference's MLP."""

    kwargs: VGGKwargs = field(default_factory=VGGKwargs)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        self.kwargs.check(cfg, key)


# small_stem does not apply: VGG has no strided stem, and 32x32 is its native CIFAR input.
@register_backbone("vgg11", VGGConfig)
def vgg11(image_size: int, small_stem: bool, **kwargs: Any) -> nn.Module:
    return build_vgg("vgg11", image_size, **kwargs)


@register_backbone("vgg16", VGGConfig)
def vgg16(image_size: int, small_stem: bool, **kwargs: Any) -> nn.Module:
    return build_vgg("vgg16", image_size, **kwargs)


@register_backbone("vgg19", VGGConfig)
def vgg19(image_size: int, small_stem: bool, **kwargs: Any) -> nn.Module:
    return build_vgg("vgg19", image_size, **kwargs)
