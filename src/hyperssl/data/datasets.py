"""Data sets as ``(image, label)`` samples: image a uint8 RGB tensor [3, H, W], label an int.

Unlabelled images (STL-10's ``unlabeled`` split, a plain ``folder``) have label -1. Every data set
has a ``classes`` list (empty when unlabelled). Files that are missing or cannot be parsed raise
:class:`hyperssl.ConfigError` naming the file, so the entry points report them in one line.

torchvision's CIFAR and STL-10 readers hash every file on each construction; ours hash only when
downloading, so that re-packed copies and the test fixtures load (and loading is faster).
"""

import logging
import pickle
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.datasets import CIFAR10, CIFAR100, STL10

from hyperssl.data.image_files import image_folder, unlabelled_folder
from hyperssl.data.in_memory import TensorImages, require_files
from hyperssl.data.mnist import MNIST_CLASSES, load_mnist
from hyperssl.errors import ConfigError

log = logging.getLogger(__name__)

SPLITS = ("train", "train+unlabeled", "val")
DIGITS_SIZE = 32
STL10_IMAGE_BYTES = 3 * 96 * 96


def build_dataset(
    name: str,
    root: str | Path | None,
    split: str = "train",
    download: bool = False,
    seed: int = 0,
    val_fraction: float = 0.2,
    *,
    key: str = "data.train_path",
    skip_corrupt: bool = False,
) -> Dataset:
    """Build one split of a data set.

    name: digits, mnist, fashion_mnist, cifar10, cifar100, stl10, imagefolder or folder.
    root: the torchvision root (holding ``cifar-10-batches-py``, ``MNIST/raw`` ...) or the image
        folder; unused for digits.
    split: ``train``, ``val`` (the official test split for mnist, fashion_mnist, cifar and stl10,
        the held-out share for digits; imagefolder/folder read ``root`` whatever the split) or
        ``train+unlabeled`` (stl10 only; falls back to ``train`` when ``unlabeled_X.bin`` is
        absent).
    download: fetch (fashion_)mnist/cifar/stl10 into ``root`` when absent and check MD5 sums;
        never done otherwise.
    seed, val_fraction: the digits train/val split (stratified, fixed by the seed).
    key: the config key named by errors (``data.train_path`` or ``data.val_path``).
    skip_corrupt: imagefolder/folder leave out the files that do not decode (see
        :mod:`hyperssl.data.image_files`); unused by the other data sets.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "train+unlabeled" and name != "stl10":
        raise ValueError(f"split 'train+unlabeled' exists only for stl10, not {name!r}")
    if name == "digits":
        return _digits(split, seed, val_fraction)
    if root is None:
        raise ConfigError(key=key, problem=f"is required for dataset {name!r}")
    root = Path(root).expanduser()
    if name in ("cifar10", "cifar100"):
        return _cifar(name, root, split == "train", download, key)
    if name in MNIST_CLASSES:
        return load_mnist(name, root, split == "train", download, key)
    if name == "stl10":
        return _stl10(root, split, download, key)
    if name == "imagefolder":
        return image_folder(root, key, skip_corrupt)
    if name == "folder":
        return unlabelled_folder(root, key, skip_corrupt)
    raise ConfigError(
        key="data.dataset",
        problem=f"unknown data set {name!r}",
        allowed="digits, mnist, fashion_mnist, cifar10, cifar100, stl10, imagefolder, folder",
    )


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


def _digits(split: str, seed: int, val_fraction: float) -> TensorImages:
    images, labels = _all_digits()
    train_index, val_index = digits_split(labels.numpy(), val_fraction, seed)
    index = torch.from_numpy(train_index if split == "train" else val_index)
    return TensorImages(images[index].contiguous(), labels[index], [str(d) for d in range(10)])


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


class _CIFAR10(CIFAR10):
    """torchvision's CIFAR10 loading code, with MD5 sums checked only when downloading."""

    def __init__(self, root: Path, train: bool, download: bool) -> None:
        self._verify_md5 = download
        if not download:
            # torchvision's check_integrity(path, md5=None) only tests that the file exists.
            self.meta = {**self.meta, "md5": None}
        super().__init__(str(root), train=train, download=download)

    def _check_integrity(self) -> bool:
        if self._verify_md5:
            return super()._check_integrity()
        return all(path.is_file() for path in _cifar_files(type(self), Path(self.root), self.train))


class _CIFAR100(_CIFAR10, CIFAR100):
    """torchvision's CIFAR100 loading code, with MD5 sums checked only when downloading."""


def _cifar_files(cls: type[CIFAR10], root: Path, train: bool) -> list[Path]:
    """The files one split needs: its pickle batches, then the meta file."""
    batches = cls.train_list if train else cls.test_list
    folder = root / cls.base_folder
    return [folder / name for name, _ in batches] + [folder / cls.meta["filename"]]


def _cifar(name: str, root: Path, train: bool, download: bool, key: str) -> TensorImages:
    cls = _CIFAR10 if name == "cifar10" else _CIFAR100
    files = _cifar_files(cls, root, train)
    if not download:
        require_files(files, name, cls.base_folder, key)
    try:
        dataset = cls(root, train=train, download=download)
        consistent = len(dataset.data) == len(dataset.targets)
    except RuntimeError as err:  # torchvision's "not found or corrupted"
        if not download:
            raise _cifar_error(files, cls.meta["key"], key, err) from err
        problem = f"{root / cls.base_folder} fails torchvision's MD5 check after download: {err}"
        raise ConfigError(key=key, problem=problem) from err
    except Exception as err:  # unpickling garbage can raise almost anything
        raise _cifar_error(files, cls.meta["key"], key, err) from err
    if not consistent:
        raise _cifar_error(files, cls.meta["key"], key, None)
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
    return TensorImages(images, torch.as_tensor(dataset.targets).long(), list(dataset.classes))


def _cifar_error(files: list[Path], meta_key: str, key: str, err: Exception | None) -> ConfigError:
    """Find which file broke loading, to name it; fall back to the folder and the original error."""
    for path in files:
        reason = _cifar_pickle_problem(path, meta_key if path == files[-1] else None)
        if reason:
            return ConfigError(key=key, problem=f"{path} is not a CIFAR pickle batch: {reason}")
    return ConfigError(
        key=key, problem=f"{files[0].parent} is not a CIFAR data set: {err or 'inconsistent'}"
    )


def _cifar_pickle_problem(path: Path, meta_key: str | None) -> str | None:
    """Why ``path`` is not a CIFAR batch (given ``meta_key``: its meta file); None if it is."""
    try:
        with open(path, "rb") as file:
            entry = pickle.load(file, encoding="latin1")
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    if not isinstance(entry, dict):
        return f"it holds a {type(entry).__name__}, not a dict"
    if meta_key is not None:
        return None if meta_key in entry else f"no {meta_key!r} key"
    labels = entry.get("labels", entry.get("fine_labels"))
    if "data" not in entry or labels is None:
        return "it needs a 'data' and a 'labels' (or 'fine_labels') key"
    values = np.asarray(entry["data"]).size
    if values != 3 * 32 * 32 * len(labels):
        return f"'data' holds {values} values for {len(labels)} labels, not 3072 per image"
    return None


class _STL10(STL10):
    """torchvision's STL10 loading code, with MD5 sums checked only when downloading."""

    def __init__(self, root: Path, split: str, download: bool) -> None:
        self._verify_md5 = download
        super().__init__(str(root), split=split, download=download)

    def _check_integrity(self) -> bool:
        if self._verify_md5:
            return super()._check_integrity()
        return all(path.is_file() for path in _stl10_files(Path(self.root), self.split))


def _stl10_files(root: Path, split: str) -> list[Path]:
    """The (images, labels) files of a split; the unlabelled images have no labels file."""
    folder = root / STL10.base_folder
    names = {
        "train": ["train_X.bin", "train_y.bin"],
        "train+unlabeled": ["train_X.bin", "train_y.bin", "unlabeled_X.bin"],
        "test": ["test_X.bin", "test_y.bin"],
    }[split]
    return [folder / name for name in names]


def _stl10(root: Path, split: str, download: bool, key: str) -> TensorImages:
    stl_split = "test" if split == "val" else split
    unlabelled = root / STL10.base_folder / "unlabeled_X.bin"
    if stl_split == "train+unlabeled" and not download and not unlabelled.is_file():
        log.warning("%s is missing: pretraining on the labelled STL-10 train split", unlabelled)
        stl_split = "train"
    files = _stl10_files(root, stl_split)
    if not download:
        require_files(files, "stl10", STL10.base_folder, key)
    _check_stl10_sizes(files, key)
    try:
        dataset = _STL10(root, split=stl_split, download=download)
    except (OSError, ValueError, RuntimeError) as err:
        raise ConfigError(key=key, problem=f"cannot read STL-10 from {root}: {err}") from err
    labels = torch.from_numpy(dataset.labels.astype(np.int64))
    if labels.max() >= 10:
        raise ConfigError(key=key, problem=f"{files[1]} holds labels outside 1..10")
    images = torch.from_numpy(np.ascontiguousarray(dataset.data))
    return TensorImages(images, labels, list(getattr(dataset, "classes", [])))


def _check_stl10_sizes(files: list[Path], key: str) -> None:
    """Image binaries hold whole 3x96x96 images; a labels file holds one byte per image."""
    for path in files:
        if path.is_file() and path.name.endswith("_X.bin"):
            size = path.stat().st_size
            if size == 0 or size % STL10_IMAGE_BYTES:
                raise ConfigError(
                    key=key,
                    problem=f"{path} is not an STL-10 image binary: {size} bytes is not a "
                    f"positive multiple of 3*96*96",
                )
            labels = path.with_name(path.name.replace("_X.bin", "_y.bin"))
            if (
                labels in files
                and labels.is_file()
                and labels.stat().st_size != size // STL10_IMAGE_BYTES
            ):
                raise ConfigError(
                    key=key,
                    problem=f"{labels} holds {labels.stat().st_size} labels for "
                    f"{size // STL10_IMAGE_BYTES} images in {path.name}",
                )
