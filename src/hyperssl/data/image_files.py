"""Data sets of image files decoded on access: ``imagefolder`` (class sub-folders) and ``folder``.

A file that cannot be decoded raises :class:`UnreadableImageError`, a :class:`ConfigError` naming
it. With ``skip_corrupt``, every file is decoded once when the data set is built, those that fail
are left out with one warning (their count and the first few paths), and a file that fails later
all the same (changed on disk since) is replaced by the next sample, with a warning.

Why a full decode rather than PIL's ``verify()``: verify reads a JPEG's header only, so it misses
truncated JPEGs (the usual casualty of an interrupted copy), and it rejects PNGs without an end
chunk that decode fine. The full decode leaves out exactly the files that would fail in training.
It costs little beside opening the file for small images: 65-120 us per 32x32 PNG/JPEG, about 2 s
for 20 000 images on one busy core; large JPEGs cost their decode, ~3 ms at 500x375.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms.v2.functional import pil_to_tensor

from hyperssl.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")
# What PIL raises on a damaged file (PIL.UnidentifiedImageError is an OSError; a size field
# garbled to billions of pixels is a DecompressionBombError).
DECODE_ERRORS = (OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError)
SHOWN_PATHS = 5  # unreadable files named in the warning


class UnreadableImageError(ConfigError):
    """An image file that cannot be decoded; the message names it."""


def decode_rgb(path: str | Path, key: str = "data.train_path") -> Image.Image:
    """Decode an image file to an RGB PIL image; grayscale and palette images are converted,
    16-bit grayscale keeps its 8 high bits, and an alpha channel is dropped."""
    try:
        with Image.open(path) as image:
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                # PIL's convert("RGB") clips 16-bit values at 255: most pixels would be white.
                high_bits = np.asarray(image).astype(np.int64) >> 8
                image = Image.fromarray(high_bits.clip(0, 255).astype(np.uint8))
            return image.convert("RGB")
    except DECODE_ERRORS as err:
        raise UnreadableImageError(key, f"{path} is not a readable image: {err}") from err


def read_rgb(path: str | Path, key: str = "data.train_path") -> Tensor:
    """:func:`decode_rgb` as uint8 [3, H, W]."""
    return pil_to_tensor(decode_rgb(path, key))


def readable_mask(paths: list[Path], root: Path, key: str) -> list[bool]:
    """Whether each file decodes; warns once about those that do not, and raises a ConfigError
    naming ``root`` when none does."""
    unreadable = []
    for path in paths:
        try:
            decode_rgb(path, key)
        except UnreadableImageError:
            unreadable.append(path)
    shown = ", ".join(str(path) for path in unreadable[:SHOWN_PATHS])
    more = ", ..." if len(unreadable) > SHOWN_PATHS else ""
    if len(unreadable) == len(paths):
        raise ConfigError(
            key,
            f"none of the {len(paths)} images in {root} decodes: {shown}{more}",
            "readable images",
        )
    if unreadable:
        log.warning(
            "%s: left out %d of %d images in %s that do not decode (data.skip_corrupt=true): %s%s",
            key,
            len(unreadable),
            len(paths),
            root,
            shown,
            more,
        )
    left_out = set(unreadable)
    return [path not in left_out for path in paths]


def first_readable(get: Callable[[int], T], index: int, size: int, key: str) -> T:
    """``get(index)``; when its image does not decode, the next sample whose image does."""
    for offset in range(size):
        try:
            return get((index + offset) % size)
        except UnreadableImageError as err:
            log.warning("%s; the next image is used instead (data.skip_corrupt=true)", err)
    raise ConfigError(key, f"none of the {size} images decodes any more", "readable images")


class UnlabelledImageFiles(Dataset):
    """Image files decoded on access, all with label -1; ``paths`` in a fixed (sorted) order.

    skip_corrupt: a file that does not decode is replaced by the next one that does.
    """

    def __init__(self, paths: list[Path], key: str, skip_corrupt: bool = False) -> None:
        self.paths = paths
        self.classes: list[str] = []
        self.key = key
        self.skip_corrupt = skip_corrupt

    def __len__(self) -> int:
        return len(self.paths)

    def file(self, index: int) -> tuple[str, int]:
        """The path and label of sample ``index``, not decoded."""
        return str(self.paths[index]), -1

    def _sample(self, index: int) -> tuple[Tensor, int]:
        return read_rgb(self.paths[index], key=self.key), -1

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        if self.skip_corrupt:
            return first_readable(self._sample, index, len(self), self.key)
        return self._sample(index)


class LabelledImageFiles(ImageFolder):
    """torchvision's ImageFolder (one sub-folder per class), decoding every image to RGB.

    skip_corrupt: a file that does not decode is replaced by the next one that does (with its
    label).
    """

    def __init__(self, root: Path, key: str, skip_corrupt: bool = False) -> None:
        super().__init__(str(root), loader=partial(read_rgb, key=key))
        self.key = key
        self.skip_corrupt = skip_corrupt

    def keep(self, mask: list[bool]) -> None:
        """Keep the samples whose ``mask`` entry is true; the classes stay as they are."""
        self.samples = [sample for sample, kept in zip(self.samples, mask, strict=True) if kept]
        self.imgs = self.samples
        self.targets = [target for _, target in self.samples]

    def file(self, index: int) -> tuple[str, int]:
        """The path and label of sample ``index``, not decoded."""
        return self.samples[index]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        if self.skip_corrupt:
            return first_readable(super().__getitem__, index, len(self), self.key)
        return super().__getitem__(index)


# The data sets of image files, which the batched path reads as encoded bytes.
ImageFiles = UnlabelledImageFiles | LabelledImageFiles


def _require_folder(root: Path, key: str) -> None:
    if not root.is_dir():
        problem = f"{root} is missing" if not root.exists() else f"{root} is not a directory"
        raise ConfigError(key=key, problem=problem, allowed="a directory of images")


def image_folder(root: Path, key: str, skip_corrupt: bool = False) -> LabelledImageFiles:
    """The labelled images in ``root``'s class sub-folders; see :class:`LabelledImageFiles`."""
    _require_folder(root, key)
    try:
        dataset = LabelledImageFiles(root, key, skip_corrupt)
    except FileNotFoundError as err:
        raise ConfigError(
            key=key,
            problem=f"no images found in {root}: {err}",
            allowed=f"one sub-folder per class holding {', '.join(IMG_EXTENSIONS)} files",
        ) from err
    if skip_corrupt:
        dataset.keep(readable_mask([Path(path) for path, _ in dataset.samples], root, key))
    return dataset


def unlabelled_folder(root: Path, key: str, skip_corrupt: bool = False) -> UnlabelledImageFiles:
    """Every image file under ``root`` (recursively, hidden files skipped), in sorted path order."""
    _require_folder(root, key)
    paths = sorted(
        Path(folder) / name
        for folder, _, names in os.walk(root)
        for name in names
        if not name.startswith(".") and name.lower().endswith(IMG_EXTENSIONS)
    )
    if not paths:
        raise ConfigError(
            key=key,
            problem=f"no images found in {root}",
            allowed=f"a folder holding {', '.join(IMG_EXTENSIONS)} files",
        )
    if skip_corrupt:
        mask = readable_mask(paths, root, key)
        paths = [path for path, kept in zip(paths, mask, strict=True) if kept]
    return UnlabelledImageFiles(paths, key, skip_corrupt)
