"""Write tiny data sets on disk in the real formats, for the loaders' tests and end-to-end runs.

The images are learnable: class c has its own colour (hue c / num_classes) painted as stripes
whose orientation (c mod 4) and period (by c // 4) depend on the class, on a dark background with
mild noise and a random stripe phase. Every writer returns the root to give the loader, and the
pixels are reproducible: split ``train`` is ``synthetic_split(n_train, K, size, seed)``, ``test``
uses ``seed + 1`` and STL-10's ``unlabeled`` ``seed + 2``.
"""

from __future__ import annotations

import colorsys
import gzip
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

STL10_CLASSES = [
    "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
]  # fmt: skip
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


def synthetic_images(labels: np.ndarray, num_classes: int, size: int, seed: int) -> np.ndarray:
    """uint8 [N, 3, size, size]: class-coloured stripes (see the module docstring)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    coords = (yy, xx, yy + xx, yy - xx + size)
    images = np.empty((len(labels), 3, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        colour = 255 * np.array(colorsys.hsv_to_rgb(label / num_classes, 0.8, 0.9))
        period = max(4, size // 4) * (1 + (label // 4) % 2)
        phase = rng.integers(period)
        stripes = (coords[label % 4] + phase) % period < period // 2
        background = 30.0
        image = background + stripes[None] * (colour[:, None, None] - background)
        image += rng.normal(0.0, 8.0, size=image.shape)
        images[i] = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return images


def synthetic_split(
    n: int, num_classes: int, size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [n, 3, size, size] and balanced, shuffled labels int64 [n]."""
    labels = np.random.default_rng(seed).permutation(np.arange(n) % num_classes).astype(np.int64)
    return synthetic_images(labels, num_classes, size, seed), labels


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as file:
        pickle.dump(obj, file, protocol=2)  # the protocol of the original Python 2 files


def _cifar_batch(images: np.ndarray, labels: np.ndarray, label_key: str, name: str) -> dict:
    """One CIFAR batch: 'data' uint8 [n, 3072], each row R(32x32) G B in row-major order."""
    return {
        "batch_label": name,
        label_key: [int(label) for label in labels],
        "data": images.reshape(len(images), -1),
        "filenames": [f"synthetic_{i:05d}.png" for i in range(len(images))],
    }


def write_cifar10(root: str | Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """``<root>/cifar-10-batches-py/``: data_batch_1..5 (the train split in order), test_batch,
    batches.meta. Returns ``root``."""
    root = Path(root)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = synthetic_split(n_train, 10, 32, seed)
    for i, part in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        batch = _cifar_batch(images[part], labels[part], "labels", f"training batch {i} of 5")
        _pickle(folder / f"data_batch_{i}", batch)
    images, labels = synthetic_split(n_test, 10, 32, seed + 1)
    _pickle(folder / "test_batch", _cifar_batch(images, labels, "labels", "testing batch 1 of 1"))
    _pickle(
        folder / "batches.meta",
        {"label_names": CIFAR10_CLASSES, "num_cases_per_batch": 10000, "num_vis": 3072},
    )
    return root


def write_cifar100(root: str | Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """``<root>/cifar-100-python/``: train, test (fine and coarse labels), meta; returns root."""
    root = Path(root)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, split_seed in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = synthetic_split(n, 100, 32, split_seed)
        batch = _cifar_batch(images, labels, "fine_labels", name)
        batch["coarse_labels"] = [int(label) // 5 for label in labels]
        _pickle(folder / name, batch)
    _pickle(
        folder / "meta",
        {
            "fine_label_names": [f"fine_{i:02d}" for i in range(100)],
            "coarse_label_names": [f"coarse_{i:02d}" for i in range(20)],
        },
    )
    return root


def _stl10_binary(images: np.ndarray) -> bytes:
    """STL-10 stores each channel column-major: the bytes of the [N, 3, W, H] transpose."""
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes()


def write_stl10(
    root: str | Path,
    n_train: int = 32,
    n_test: int = 16,
    n_unlabeled: int = 16,
    size: int = 96,
    seed: int = 0,
) -> Path:
    """``<root>/stl10_binary/``: train_X/y.bin, test_X/y.bin, unlabeled_X.bin (left out when
    ``n_unlabeled`` is 0), class_names.txt; labels stored 1..10 as in the real files.

    torchvision's reader only reads 96x96 images; other sizes serve to write broken files.
    """
    root = Path(root)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, split_seed in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = synthetic_split(n, 10, size, split_seed)
        (folder / f"{name}_X.bin").write_bytes(_stl10_binary(images))
        (folder / f"{name}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())
    if n_unlabeled:
        images, _ = synthetic_split(n_unlabeled, 10, size, seed + 2)
        (folder / "unlabeled_X.bin").write_bytes(_stl10_binary(images))
    (folder / "class_names.txt").write_text("\n".join(STL10_CLASSES) + "\n")
    return root


def _save(image: np.ndarray, path: Path, mode: str, rng: np.random.Generator) -> None:
    """Save a uint8 [3, H, W] image converted to ``mode`` (RGBA gets a random alpha channel)."""
    pil = Image.fromarray(image.transpose(1, 2, 0))
    if mode == "RGBA":
        alpha = rng.integers(0, 256, size=image.shape[1:], dtype=np.uint8)
        pil.putalpha(Image.fromarray(alpha))
    elif mode != "RGB":
        pil = pil.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path)


def write_image_folder(
    root: str | Path,
    classes: Sequence[str] = ("a", "b"),
    n_per_class: int = 8,
    size: int = 32,
    mode: str = "RGB",
    ext: str = ".png",
    seed: int = 0,
) -> Path:
    """``<root>/<class>/<class>_<i>.<ext>``: the images of class k are
    ``synthetic_images([k] * n_per_class, len(classes), size, seed + k)``. Returns ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        labels = np.full(n_per_class, k)
        for i, image in enumerate(synthetic_images(labels, len(classes), size, seed + k)):
            _save(image, root / name / f"{name}_{i:03d}{ext}", mode, rng)
    return root


def write_flat_folder(
    root: str | Path, n: int = 16, size: int = 32, ext: str = ".png", seed: int = 0
) -> Path:
    """``n`` unlabelled images, the even ones in ``root``, the odd ones in ``root/nested``, plus a
    text file that loaders must skip. Image i is ``synthetic_split(n, 4, size, seed)[0][i]``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    images, _ = synthetic_split(n, 4, size, seed)
    for i, image in enumerate(images):
        folder = root / "nested" if i % 2 else root
        _save(image, folder / f"image_{i:03d}{ext}", "RGB", rng)
    (root / "notes.txt").write_text("not an image\n")
    return root


def damage(path: Path, how: str) -> Path:
    """Break an image file in place, as disks and interrupted copies do: ``truncated`` loses its
    last 64 bytes (its header still parses, its pixels do not decode), ``empty`` every byte,
    ``garbage`` holds a line of text instead."""
    data = path.read_bytes()
    broken = {"truncated": data[:-64], "empty": b"", "garbage": b"not an image\n"}
    path.write_bytes(broken[how])
    return path


MNIST_SIZE = 28


def gray_split(n: int, seed: int, size: int = MNIST_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Grayscale images uint8 [n, size, size] (the channel mean of ``synthetic_split(n, 10, size,
    seed)``, rounded) and their labels int64 [n]: the pixels ``write_mnist`` stores."""
    images, labels = synthetic_split(n, 10, size, seed)
    return np.round(images.mean(axis=1)).astype(np.uint8), labels


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An idx file: big-endian int32 magic number and dimensions, then the uint8 values."""
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_mnist(
    root: str | Path,
    n_train: int = 40,
    n_test: int = 20,
    seed: int = 0,
    fashion: bool = False,
    gzipped: bool = False,
    flat: bool = False,
) -> Path:
    """``<root>/MNIST/raw/`` (``FashionMNIST/raw/`` when ``fashion``) as torchvision extracts it:
    ``{train,t10k}-images-idx3-ubyte`` (magic 2051, dims n x 28 x 28) and
    ``{train,t10k}-labels-idx1-ubyte`` (magic 2049, dim n). Train holds ``gray_split(n_train,
    seed)``, t10k ``gray_split(n_test, seed + 1)``. ``gzipped``: only the ``.gz`` files, as
    downloaded; ``flat``: the four files directly in ``root``, as Debian's dataset-fashion-mnist
    installs them (gzipped) in /usr/share/datasets/fashion-mnist. Returns ``root``."""
    root = Path(root)
    folder = root if flat else root / ("FashionMNIST" if fashion else "MNIST") / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, split_seed in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = gray_split(n, split_seed)
        for name, data in (
            (f"{prefix}-images-idx3-ubyte", _idx_bytes(images, 2051)),
            (f"{prefix}-labels-idx1-ubyte", _idx_bytes(labels, 2049)),
        ):
            if gzipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (folder / name).write_bytes(data)
    return root
