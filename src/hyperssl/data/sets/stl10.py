"""``stl10`` in torchvision's layout under ``data.train_path``: ``stl10_binary/``.

Pretraining reads ``train+unlabeled`` (105k images) when ``data.stl10_unlabeled`` is set and
``unlabeled_X.bin`` exists, else the 5k labelled train images; validation and the k-NN bank use
the labelled test and train splits. torchvision's reader hashes every file on each construction;
ours hashes only when downloading.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import STL10

from hyperssl.data.in_memory import TensorImages, require_files
from hyperssl.data.registry import DataSource, SplitRequest, register_dataset
from hyperssl.data.schema import DataConfig
from hyperssl.errors import ConfigError

log = logging.getLogger(__name__)

STL10_SIZE = 96
STL10_IMAGE_BYTES = 3 * STL10_SIZE * STL10_SIZE


@dataclass
class STL10Config(DataConfig):
    train_path: str | None = "./datasets"
    num_classes: int = 10
    image_size: int = STL10_SIZE
    mean: list[float] = field(default_factory=lambda: [0.4467, 0.4398, 0.4066])
    std: list[float] = field(default_factory=lambda: [0.2603, 0.2566, 0.2713])


@register_dataset("stl10", STL10Config)
class STL10Source(DataSource):
    """Splits ``train``, ``val`` (the test split) and ``train+unlabeled``, in memory; unlabelled
    images have label -1."""

    splits = ("train", "val", "train+unlabeled")
    in_memory = downloadable = has_test_split = True

    @classmethod
    def load(cls, request: SplitRequest) -> TensorImages:
        return _load_stl10(request)

    @classmethod
    def pretrain_split(cls, data: DataConfig) -> str:
        return "train+unlabeled" if data.stl10_unlabeled else "train"


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


def _load_stl10(request: SplitRequest) -> TensorImages:
    root, key, download = request.root, request.key, request.download
    stl_split = "test" if request.split == "val" else request.split
    unlabelled = root / STL10.base_folder / "unlabeled_X.bin"
    if stl_split == "train+unlabeled" and not download and not unlabelled.is_file():
        log.warning("%s is missing: pretraining on the labelled STL-10 train split", unlabelled)
        stl_split = "train"
    files = _stl10_files(root, stl_split)
    if not download:
        require_files(files, request.dataset, STL10.base_folder, key)
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
