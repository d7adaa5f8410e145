"""``digits``: scikit-learn's bundled 8x8 digits, the quickstart data set (no files or download)."""

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from omegaconf import DictConfig
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor

from hyperssl.data.in_memory import TensorImages
from hyperssl.data.registry import DataSource, SplitRequest, register_dataset
from hyperssl.data.schema import DataConfig
from hyperssl.errors import require

DIGITS_SIZE = 32


@dataclass
class DigitsConfig(DataConfig):
    """The 1797 images, upsampled to 32x32; a stratified ``val_fraction`` is held out, fixed by
    the run's seed (0: no validation). mean/std: of those 32x32 images."""

    num_classes: int = 10
    image_size: int = DIGITS_SIZE
    mean: list[float] = field(default_factory=lambda: [0.3052] * 3)
    std: list[float] = field(default_factory=lambda: [0.3236] * 3)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        require(
            0.0 <= self.val_fraction < 1.0, f"{key}.val_fraction", self.val_fraction, "0 <= x < 1"
        )


@register_dataset("digits", DigitsConfig)
class DigitsSource(DataSource):
    """Splits ``train`` and ``val`` of a stratified split of the bundled images."""

    reads_files = False
    in_memory = True

    @classmethod
    def load(cls, request: SplitRequest) -> TensorImages:
        images, labels = _all_digits()
        train_index, val_index = digits_split(labels.numpy(), request.val_fraction, request.seed)
        index = torch.from_numpy(train_index if request.split == "train" else val_index)
        return TensorImages(images[index].contiguous(), labels[index], [str(d) for d in range(10)])

    @classmethod
    def val_source(cls, data: DataConfig) -> tuple[str | None, str] | None:
        """The held-out share: no root, named by ``data.val_fraction``."""
        return (None, "data.val_fraction") if data.val_fraction > 0 else None


@cache
def _all_digits() -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled 8x8 digits (0..16), scaled to 0..255, bilinearly upsampled to 32x32
    and replicated to 3 channels (light strokes on a dark background): uint8 [1797, 3, 32, 32] and
    labels long [1797]."""
    digits = load_digits()
    pixels = torch.from_numpy(digits.images).float()[:, None] * (255.0 / 16.0)
    size = (DIGITS_SIZE, DIGITS_SIZE)
    large = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)
    images = large.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)
    return images, torch.from_numpy(digits.target).long()


def digits_split(
    labels: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and val indices of a stratified split; val is empty when val_fraction is 0."""
    everything = np.arange(len(labels))
    if val_fraction == 0:
        return everything, everything[:0]
    train, val = train_test_split(
        everything, test_size=val_fraction, stratify=labels, random_state=seed
    )
    return np.sort(train), np.sort(val)
