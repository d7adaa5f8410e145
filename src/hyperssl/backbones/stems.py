"""The small-image stem shared by the ResNet-style backbones of torchvision and timm."""

import warnings

from torch import nn

from hyperssl.errors import require


class KeptStemWarning(UserWarning):
    """A model asked for the small-image stem has no ``conv1`` to swap: it keeps its own stem."""


def check_small_stem_padding(padding: object, key: str) -> None:
    """ConfigError naming ``key`` unless ``padding`` is an integer >= 0."""
    ok = isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0
    require(ok, key, padding, "an integer >= 0 (1 keeps 32 px maps at 32 px; solo-learn: 2)")


def use_small_image_stem(model: nn.Module, name: str, padding: int) -> None:
    """Swap a stride-2 ``conv1`` for a 3x3 stride-1 conv with ``padding`` and drop ``maxpool``,
    in place.

    Padding 1 keeps the input's size; solo-learn's CIFAR stem pads by 2, so a 32x32 image gives
    34x34 maps. The new conv keeps the old one's output channels and bias setting. A model without a
    ``conv1`` convolution (a ViT, a ConvNeXt's patchify stem, a ResNet-D's deep stem) keeps its
    own stem, which may shrink small images as much as 224-pixel ones: a :class:`KeptStemWarning`
    naming ``name`` says so (once per model name, Python's default warning filter).
    """
    conv1 = getattr(model, "conv1", None)
    if not isinstance(conv1, nn.Conv2d):
        warnings.warn(
            f"backbone {name!r} has no conv1 convolution to swap for the small-image stem: it "
            "keeps its own stem, sized for large images (backbone.small_stem=false silences this)",
            KeptStemWarning,
            stacklevel=2,
        )
        return
    model.conv1 = nn.Conv2d(
        conv1.in_channels,
        conv1.out_channels,
        kernel_size=3,
        stride=1,
        padding=padding,
        bias=conv1.bias is not None,
    )
    if hasattr(model, "maxpool"):
        model.maxpool = nn.Identity()
