"""The two options the papers' networks share, with their checks and the input layer of one.

- ``in_channels: 1`` builds a grayscale network, as the spherization and MHE papers' MNIST and
  Fashion-MNIST ones are. The data sets give grayscale images replicated to 3 channels; the
  network's :class:`GrayscaleInput` averages them back to one.
- ``last_relu: false`` leaves the last hidden layer's pre-activations for the spherization layer,
  which replaces that activation in the reference's spherized networks; the plain networks keep the
  ReLU before their linear classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from hyperssl.errors import require


class GrayscaleInput(nn.Module):
    """[B, 3, H, W] -> [B, 1, H, W] by the mean of the channels; [B, 1, H, W] passes unchanged.

    The mean rather than torchvision's ``rgb_to_grayscale``: its luma weights sum to 0.9999, so it
    would scale the replicated grayscale of MNIST-like data sets, which the mean returns exactly.
    """

    def forward(self, images: Tensor) -> Tensor:
        return images.mean(dim=1, keepdim=True) if images.shape[1] == 3 else images


def input_layers(in_channels: int) -> dict[str, nn.Module]:
    """The grayscale conversion that ``in_channels=1`` networks start with (none for 3)."""
    return {"grayscale": GrayscaleInput()} if in_channels == 1 else {}


@dataclass
class GrayscaleKwargs:
    # 1: a grayscale network (the papers' MNIST ones); 3-channel inputs are averaged to one.
    in_channels: int = 3

    def check(self, cfg: DictConfig | None, key: str) -> None:
        require(
            self.in_channels in (1, 3),
            f"{key}.kwargs.in_channels",
            self.in_channels,
            "1 (grayscale) or 3 (RGB)",
        )


@dataclass
class SpherizableKwargs(GrayscaleKwargs):
    # false: no ReLU after the last layer, as the spherization paper's spherized networks.
    last_relu: bool = True

    def check(self, cfg: DictConfig | None, key: str) -> None:
        super().check(cfg, key)
        classifier = None if cfg is None else OmegaConf.select(cfg, "method.classifier")
        # Without the ReLU, the last layer and a linear classifier compose into one linear map:
        # a smaller network than the reference's plain one.
        require(
            self.last_relu or classifier != "linear",
            f"{key}.kwargs.last_relu",
            self.last_relu,
            "true with method.classifier=linear (the plain network; false is for "
            "method.classifier=spheric, whose spherization replaces the last ReLU)",
        )
