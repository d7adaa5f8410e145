"""``cifar10`` and ``cifar100`` (fine labels) in torchvision's layout under ``data.train_path``:
``cifar-10-batches-py/`` and ``cifar-100-python/``. Validation is the official test batch under the
same root unless ``val_path`` is set; ``download=true`` fetches them (and checks MD5 sums).

The batches are pickles, read with :func:`hyperssl.data.safe_pickle.load_data_pickle` (which
refuses any global a data file does not need) instead of torchvision's readers, whose
``pickle.load`` would run whatever code a crafted batch names. torchvision's classes still give
the file names, MD5 sums and the download. Sums are checked only when downloading, so that
re-packed copies and the test fixtures load (and loading is faster).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torchvision.datasets import CIFAR10, CIFAR100, VisionDataset
from torchvision.datasets.utils import check_integrity

from hyperssl.data.in_memory import TensorImages, require_files
from hyperssl.data.registry import DataSource, SplitRequest, register_dataset
from hyperssl.data.safe_pickle import load_data_pickle
from hyperssl.data.schema import DataConfig
from hyperssl.errors import ConfigError

CIFAR_SIZE = 32
IMAGE_VALUES = 3 * CIFAR_SIZE * CIFAR_SIZE  # a row of 'data': R, G, B planes of 32x32


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


@register_dataset("cifar10", CIFAR10Config)
class CIFAR10Source(DataSource):
    """The 50k train and 10k test images of 32x32, in memory."""

    in_memory = downloadable = has_test_split = True
    layout: ClassVar[type[CIFAR10]] = CIFAR10  # torchvision's file names, MD5 sums and URL

    @classmethod
    def load(cls, request: SplitRequest) -> TensorImages:
        return _load_cifar(cls.layout, request)


@register_dataset("cifar100", CIFAR100Config)
class CIFAR100Source(CIFAR10Source):
    """CIFAR-100's 50k train and 10k test images with their 100 fine labels."""

    layout = CIFAR100


def _cifar_files(layout: type[CIFAR10], root: Path, train: bool) -> list[Path]:
    """The files one split needs: its pickle batches, then the meta file."""
    batches = layout.train_list if train else layout.test_list
    folder = root / layout.base_folder
    return [folder / name for name, _ in batches] + [folder / layout.meta["filename"]]


def _download(layout: type[CIFAR10], root: Path, key: str) -> None:
    """torchvision's download (skipped when every file has its MD5 sum), then its sums checked."""
    # Only the download of torchvision's dataset: its __init__ would unpickle the batches.
    dataset = layout.__new__(layout)
    VisionDataset.__init__(dataset, str(root))
    try:
        dataset.download()
    except Exception as err:  # network and archive errors of many types
        problem = f"cannot download {layout.url} into {root}: {err}".replace("\n", " ")
        raise ConfigError(key=key, problem=problem) from err
    meta = root / layout.base_folder / layout.meta["filename"]
    if not (dataset._check_integrity() and check_integrity(str(meta), layout.meta["md5"])):
        problem = f"{root / layout.base_folder} fails torchvision's MD5 check after download"
        raise ConfigError(key=key, problem=problem)


def _load_cifar(layout: type[CIFAR10], request: SplitRequest) -> TensorImages:
    root, key = request.root, request.key
    files = _cifar_files(layout, root, request.split == "train")
    if request.download:
        _download(layout, root, key)
    require_files(files, request.dataset, layout.base_folder, key)
    *batches, meta = files
    classes = _class_names(meta, layout.meta["key"], key)
    images, labels = zip(*(_read_batch(path, len(classes), key) for path in batches), strict=True)
    pixels = torch.from_numpy(np.concatenate(images)).view(-1, 3, CIFAR_SIZE, CIFAR_SIZE)
    return TensorImages(pixels, torch.from_numpy(np.concatenate(labels)), classes)


def _not_a_batch(path: Path, key: str, reason: str) -> ConfigError:
    return ConfigError(key=key, problem=f"{path} is not a CIFAR pickle batch: {reason}")


def _read_dict(path: Path, key: str) -> dict[str, Any]:
    try:
        entry = load_data_pickle(path, key)
    except ConfigError:
        raise
    except Exception as err:  # unpickling garbage can raise almost anything
        text = str(err).strip().splitlines()
        raise _not_a_batch(path, key, f"{type(err).__name__}: {text[0] if text else ''}") from err
    if not isinstance(entry, dict):
        raise _not_a_batch(path, key, f"it holds a {type(entry).__name__}, not a dict")
    return entry


def _class_names(path: Path, meta_key: str, key: str) -> list[str]:
    """The class names the meta file ``path`` holds under ``meta_key``."""
    names = _read_dict(path, key).get(meta_key)
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise _not_a_batch(path, key, f"no list of class names under {meta_key!r}")
    return list(names)


def _integer_list(values: Any) -> np.ndarray | None:
    """``values`` as a 1-d integer array, None when they are not a flat list of integers."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nesting
        return None
    return array if array.ndim == 1 and (array.size == 0 or array.dtype.kind in "iu") else None


def _read_batch(path: Path, num_classes: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch's images uint8 [n, 3072] and labels int64 [n], each in [0, num_classes)."""
    entry = _read_dict(path, key)
    labels = entry.get("labels", entry.get("fine_labels"))
    if "data" not in entry or labels is None:
        raise _not_a_batch(path, key, "it needs a 'data' and a 'labels' (or 'fine_labels') key")
    data = entry["data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8):
        raise _not_a_batch(path, key, "its 'data' is not a uint8 numpy array")
    labels = _integer_list(labels)
    if labels is None:
        raise _not_a_batch(path, key, "its labels are not a list of integers")
    if data.size != IMAGE_VALUES * len(labels):
        reason = f"'data' holds {data.size} values for {len(labels)} labels"
        raise _not_a_batch(path, key, f"{reason}, not {IMAGE_VALUES} per image")
    outside = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if outside.size:
        index = int(outside[0])
        raise ConfigError(
            key=key,
            problem=f"{path} holds label {int(labels[index])} (image {index}), outside the "
            f"{num_classes} classes of its meta file",
            allowed=f"labels 0 to {num_classes - 1}",
        )
    return data.reshape(len(labels), IMAGE_VALUES), labels.astype(np.int64)
