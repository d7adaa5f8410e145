"""MNIST and Fashion-MNIST from their idx files, gzipped or extracted, with the headers checked.

The four files of a root (``{train,t10k}-{images-idx3,labels-idx1}-ubyte``) are read from
torchvision's layout, ``<root>/MNIST/raw/`` or ``<root>/FashionMNIST/raw/``, when that folder
exists, else from ``<root>`` itself: the flat folder of the official downloads and of Debian's
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``). Each file is read extracted
when it is there, else from its ``.gz`` (decompressed in memory, nothing written): torchvision's
download leaves both, and the extracted file is the faster read.
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import MNIST

from hyperssl.data.in_memory import TensorImages
from hyperssl.data.registry import SplitRequest
from hyperssl.errors import ConfigError

# Big-endian magic numbers of the idx files: 0x08 (unsigned bytes) << 8 | number of dimensions.
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049


def idx_file_names(train: bool) -> tuple[str, str]:
    """The (images, labels) idx file names of one split, extracted."""
    prefix = "train" if train else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def mnist_folder(cls: type[MNIST], root: Path) -> Path:
    """Where the idx files of ``root`` are: torchvision's ``<root>/<cls>/raw/`` when it exists,
    else ``root`` itself (the flat layout)."""
    torchvision_folder = root / cls.__name__ / "raw"
    return torchvision_folder if torchvision_folder.is_dir() else root


def find_idx_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` when it is there, else ``folder/name.gz``; None when neither is."""
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            return path
    return None


def load_mnist(cls: type[MNIST], request: SplitRequest) -> TensorImages:
    """One split of torchvision's ``cls`` (MNIST or FashionMNIST): 28x28 grayscale digits or
    clothes replicated to uint8 [N, 3, 28, 28].

    With ``request.download`` and a file missing, torchvision fetches the split into
    ``<root>/<cls>/raw/`` (checking the archives' MD5 sums); files already there are read as they
    are.
    """
    dataset, root, key = request.dataset, request.root, request.key
    names = idx_file_names(request.split == "train")
    files = [find_idx_file(mnist_folder(cls, root), name) for name in names]
    if request.download and None in files:
        try:
            cls(str(root), train=request.split == "train", download=True)
        except (OSError, RuntimeError) as err:
            problem = f"cannot download {dataset} into {root}: {err}".replace("\n", " ")
            raise ConfigError(key=key, problem=problem) from err
        files = [find_idx_file(mnist_folder(cls, root), name) for name in names]
    for path, name in zip(files, names, strict=True):
        if path is None:
            missing = mnist_folder(cls, root) / name
            raise ConfigError(
                key=key,
                problem=f"{missing} is missing (nor is {name}.gz there)",
                allowed=f"a folder holding the four {dataset} idx files, gzipped or not, or a "
                f"root holding {cls.__name__}/raw/ as torchvision writes it, or data.download=true "
                "to fetch it",
            )
    images_file, labels_file = files
    images = read_idx(images_file, IDX_IMAGES_MAGIC, key)
    labels = read_idx(labels_file, IDX_LABELS_MAGIC, key)
    if len(labels) != len(images):
        raise ConfigError(
            key=key,
            problem=f"{labels_file} holds {len(labels)} labels for {len(images)} images in "
            f"{images_file.name}",
        )
    if len(labels) and labels.max() >= len(cls.classes):
        raise ConfigError(key=key, problem=f"{labels_file} holds labels outside 0..9")
    pixels = torch.from_numpy(images)
    # A broadcast view: the three channels share the grayscale pixels' memory.
    return TensorImages(
        pixels[:, None].expand(-1, 3, -1, -1),
        torch.from_numpy(labels.astype(np.int64)),
        list(cls.classes),
    )


def read_idx(path: Path, magic: int, key: str) -> np.ndarray:
    """The uint8 array an idx file holds (decompressed when its name ends in ``.gz``), once its
    magic number (whose low byte is the number of dimensions) and its size are checked;
    ConfigError naming it otherwise.

    Hand-written (a header and np.frombuffer) because torchvision's read_image_file and
    read_label_file read only extracted files, and Debian's package installs only the ``.gz``.
    """
    gzipped = path.suffix == ".gz"
    try:
        data = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        what = "a readable gzip file" if gzipped else "readable"
        raise ConfigError(key=key, problem=f"{path} is not {what}: {err}") from err
    ndim = magic & 0xFF
    header_size = 4 * (1 + ndim)
    size = f"{len(data)} bytes{' decompressed' if gzipped else ''}"
    if len(data) < header_size:
        problem = f"{size}, shorter than its {header_size}-byte header"
    else:
        found, *dims = struct.unpack_from(f">{1 + ndim}I", data)
        expected = header_size + math.prod(dims)
        if found != magic:
            problem = f"magic number {found}, not {magic}"
        elif len(data) != expected:
            problem = f"{size}, but its header {dims} needs {expected}"
        else:
            # A copy: arrays over ``bytes`` are read-only, and torch wants writable memory.
            return np.frombuffer(data, np.uint8, offset=header_size).reshape(dims).copy()
    raise ConfigError(key=key, problem=f"{path} is not an idx file of the MNIST format: {problem}")
