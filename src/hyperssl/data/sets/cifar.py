"""``cifar10`` and ``cifar100`` (fine labels) in torchvision's layout under ``data.train_path``:
``cifar-10-batches-py/`` and ``cifar-100-python/``. Validation is the official test batch under the
same root unless ``val_path`` is set; ``download=true`` fetches them (and checks MD5 sums).

torchvision's CIFAR readers hash every file on each construction; ours hash only when downloading,
so that re-packed copies and the test fixtures load (and loading is faster).
"""

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torchvision.datasets import CIFAR10, CIFAR100

from hyperssl.data.in_memory import TensorImages, require_files
from hyperssl.data.registry import DataSource, SplitRequest, register_dataset
from hyperssl.data.schema import DataConfig
from hyperssl.errors import ConfigError

CIFAR_SIZE = 32


@dataclass
class CIFAR10Config(DataConfig):
    train_path: str | None = "./datasets"
    num_classes: int = 10
    image_size: int = CIFAR_SIZE
    mean: list[float] = field(default_factory=lambda: [0.4914, 0.4822, 0.4465])
    std: list[float] = field(default_factory=lambda: [0.2470, 0.2435, 0.2616])


@dataclass
class CIFAR100Config(CIFAR10Config):
    num_classes: int = 100
    mean: list[float] = field(default_factory=lambda: [0.5071, 0.4865, 0.4409])
    std: list[float] = field(default_factory=lambda: [0.2673, 0.2564, 0.2762])


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


@register_dataset("cifar10", CIFAR10Config)
class CIFAR10Source(DataSource):
    """The 50k train and 10k test images of 32x32, in memory."""

    in_memory = downloadable = has_test_split = True
    reader: ClassVar[type[CIFAR10]] = _CIFAR10

    @classmethod
    def load(cls, request: SplitRequest) -> TensorImages:
        return _load_cifar(cls.reader, request)


@register_dataset("cifar100", CIFAR100Config)
class CIFAR100Source(CIFAR10Source):
    """CIFAR-100's 50k train and 10k test images with their 100 fine labels."""

    reader = _CIFAR100


def _cifar_files(cls: type[CIFAR10], root: Path, train: bool) -> list[Path]:
    """The files one split needs: its pickle batches, then the meta file."""
    batches = cls.train_list if train else cls.test_list
    folder = root / cls.base_folder
    return [folder / name for name, _ in batches] + [folder / cls.meta["filename"]]


def _load_cifar(cls: type[CIFAR10], request: SplitRequest) -> TensorImages:
    root, key, train = request.root, request.key, request.split == "train"
    files = _cifar_files(cls, root, train)
    if not request.download:
        require_files(files, request.dataset, cls.base_folder, key)
    try:
        dataset = cls(root, train=train, download=request.download)
        consistent = len(dataset.data) == len(dataset.targets)
    except RuntimeError as err:  # torchvision's "not found or corrupted"
        if not request.download:
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
    expected = 3 * CIFAR_SIZE * CIFAR_SIZE
    if values != expected * len(labels):
        return f"'data' holds {values} values for {len(labels)} labels, not {expected} per image"
    return None
