"""MNIST and Fashion-MNIST from torchvision's on-disk idx files, with the headers checked first."""

import struct
from pathlib import Path

import numpy as np
from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

from hyperssl.data.in_memory import TensorImages, require_files
from hyperssl.data.registry import SplitRequest
from hyperssl.errors import ConfigError

# Big-endian magic numbers of the idx files: 0x08 (unsigned bytes) << 8 | number of dimensions.
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049


def mnist_files(cls: type[MNIST], root: Path, train: bool) -> list[Path]:
    """The (images, labels) idx files of one split, extracted, where torchvision keeps them."""
    folder = root / cls.__name__ / "raw"
    prefix = "train" if train else "t10k"
    return [folder / f"{prefix}-images-idx3-ubyte", folder / f"{prefix}-labels-idx1-ubyte"]


def load_mnist(cls: type[MNIST], request: SplitRequest) -> TensorImages:
    """One split of torchvision's ``cls`` (MNIST or FashionMNIST): 28x28 grayscale digits or
    clothes replicated to uint8 [N, 3, 28, 28].

    torchvision reads only the extracted idx files (its download extracts the ``.gz`` archives,
    whose MD5 sums it checks); the headers are checked here first so a bad file gets named.
    """
    name, root, key = request.dataset, request.root, request.key
    train = request.split == "train"
    if request.download:
        try:
            cls(str(root), train=train, download=True)
        except (OSError, RuntimeError) as err:
            problem = f"cannot download {name} into {root}: {err}".replace("\n", " ")
            raise ConfigError(key=key, problem=problem) from err
    images_file, labels_file = files = mnist_files(cls, root, train)
    for path in files:
        archive = path.with_name(path.name + ".gz")
        if not path.is_file() and archive.is_file():
            raise ConfigError(
                key=key,
                problem=f"{path} is missing (only {archive.name} is there)",
                allowed="the extracted file: gunzip it (data.download=true also extracts it)",
            )
    require_files(files, name, f"{cls.__name__}/raw", key)
    n_images = idx_shape(images_file, IDX_IMAGES_MAGIC, key)[0]
    (n_labels,) = idx_shape(labels_file, IDX_LABELS_MAGIC, key)
    if n_labels != n_images:
        raise ConfigError(
            key=key,
            problem=f"{labels_file} holds {n_labels} labels for {n_images} images in "
            f"{images_file.name}",
        )
    images = read_image_file(str(images_file))
    labels = read_label_file(str(labels_file))
    if n_labels and labels.max() >= len(cls.classes):
        raise ConfigError(key=key, problem=f"{labels_file} holds labels outside 0..9")
    # A broadcast view: the three channels share the grayscale pixels' memory.
    return TensorImages(images[:, None].expand(-1, 3, -1, -1), labels, list(cls.classes))


def idx_shape(path: Path, magic: int, key: str) -> tuple[int, ...]:
    """The dimensions an idx file of unsigned bytes declares, once its magic number (whose low
    byte is the number of dimensions) and its size are checked; ConfigError naming it otherwise."""
    ndim = magic & 0xFF
    header_size = 4 * (1 + ndim)
    with open(path, "rb") as file:
        header = file.read(header_size)
    size = path.stat().st_size
    if len(header) < header_size:
        problem = f"{size} bytes, shorter than its {header_size}-byte header"
    else:
        found, *dims = struct.unpack(f">{1 + ndim}I", header)
        expected = header_size + int(np.prod(dims))
        if found != magic:
            problem = f"magic number {found}, not {magic}"
        elif size != expected:
            problem = f"{size} bytes, but its header {dims} needs {expected}"
        else:
            return tuple(dims)
    raise ConfigError(key=key, problem=f"{path} is not an idx file of the MNIST format: {problem}")
