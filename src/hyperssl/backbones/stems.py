"""The small-image stem shared by the ResNet-style backbones of torchvision and timm."""

from torch import nn


def use_small_image_stem(model: nn.Module) -> bool:
    """Swap a stride-2 ``conv1`` for a 3x3 stride-1 conv and drop ``maxpool``, in place.

    Returns False when the model has no ``conv1`` convolution to swap (e.g. a ViT), so the caller
    can tell the user. The new conv keeps the old one's output channels and bias setting.
    """
    conv1 = getattr(model, "conv1", None)
    if not isinstance(conv1, nn.Conv2d):
        return False
    model.conv1 = nn.Conv2d(
        conv1.in_channels,
        conv1.out_channels,
        kernel_size=3,
        stride=1,
        padding=1,
        bias=conv1.bias is not None,
    )
    if hasattr(model, "maxpool"):
        model.maxpool = nn.Identity()
    return True
