"""MNIST and Fashion-MNIST: idx files read back as written, in 3 uint8 channels; clear errors."""

import numpy as np
import pytest
import torch
import torchvision
from datasets_on_disk import gray_split, write_mnist

from hyperssl import ConfigError
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.data.datasets import build_dataset
from hyperssl.data.schema import AugmentationConfig, DataConfig, RandomResizedCropConfig


def _stack(dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(images).numpy(), np.array(labels)


@pytest.mark.parametrize(("split", "n", "seed"), [("train", 40, 0), ("val", 20, 1)])
def test_mnist_reads_back_written_pixels_in_three_equal_channels(mnist_root, split, n, seed):
    images, labels = _stack(build_dataset("mnist", mnist_root, split))
    expected_images, expected_labels = gray_split(n, seed)
    assert images.shape == (n, 3, 28, 28)
    for channel in range(3):
        np.testing.assert_array_equal(images[:, channel], expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_fashion_mnist_reads_its_own_folder_and_class_names(fashion_mnist_root):
    dataset = build_dataset("fashion_mnist", fashion_mnist_root, "train")
    images, labels = _stack(dataset)
    expected_images, expected_labels = gray_split(40, 0)
    np.testing.assert_array_equal(images[:, 1], expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    assert dataset.classes[0] == "T-shirt/top" and len(dataset.classes) == 10


def test_mnist_sample_is_uint8_chw_and_int_label(mnist_root):
    image, label = build_dataset("mnist", mnist_root, "train")[0]
    assert image.dtype == torch.uint8
    assert image.shape == (3, 28, 28)
    assert isinstance(label, int)


def test_written_idx_files_have_big_endian_magic_numbers_and_dims(mnist_root):
    raw = mnist_root / "MNIST" / "raw"
    header = np.frombuffer((raw / "t10k-images-idx3-ubyte").read_bytes()[:16], dtype=">i4")
    assert header.tolist() == [2051, 20, 28, 28]
    header = np.frombuffer((raw / "t10k-labels-idx1-ubyte").read_bytes()[:8], dtype=">i4")
    assert header.tolist() == [2049, 20]


def test_torchvision_reads_the_written_files_alike(mnist_root):
    reference = torchvision.datasets.MNIST(str(mnist_root), train=False)
    dataset = build_dataset("mnist", mnist_root, "val")
    assert torch.equal(dataset.images[:, 0], reference.data)
    assert torch.equal(dataset.labels, reference.targets)


def test_missing_labels_file_names_it_and_the_download_option(tmp_path):
    root = write_mnist(tmp_path, n_train=4, n_test=2)
    missing = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    missing.unlink()
    with pytest.raises(ConfigError) as error:
        build_dataset("mnist", root, "train")
    assert error.value.key == "data.train_path"
    assert error.value.problem == f"{missing} is missing (nor is {missing.name}.gz there)"
    assert "MNIST/raw/" in error.value.allowed and "data.download=true" in error.value.allowed


def test_missing_root_names_the_first_file_in_the_flat_layout_and_the_key(tmp_path):
    with pytest.raises(ConfigError) as error:
        build_dataset("fashion_mnist", tmp_path / "nowhere", "val", key="data.val_path")
    assert error.value.key == "data.val_path"
    expected = tmp_path / "nowhere" / "t10k-images-idx3-ubyte"
    assert error.value.problem.startswith(f"{expected} is missing")
    assert "FashionMNIST/raw/" in error.value.allowed


def test_wrong_magic_number_names_the_file(tmp_path):
    root = write_mnist(tmp_path, n_train=4, n_test=2)
    broken = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    data = bytearray(broken.read_bytes())
    data[3] = 0x01  # 2049: a labels file's magic number
    broken.write_bytes(bytes(data))
    with pytest.raises(ConfigError) as error:
        build_dataset("mnist", root, "train")
    assert error.value.problem == (
        f"{broken} is not an idx file of the MNIST format: magic number 2049, not 2051"
    )


def test_truncated_images_file_names_the_file_and_sizes(tmp_path):
    root = write_mnist(tmp_path, n_train=4, n_test=2)
    broken = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    broken.write_bytes(broken.read_bytes()[:-10])
    with pytest.raises(ConfigError) as error:
        build_dataset("mnist", root, "val")
    expected = 16 + 2 * 28 * 28
    assert error.value.problem.endswith(
        f"{expected - 10} bytes, but its header [2, 28, 28] needs {expected}"
    )
    assert error.value.problem.startswith(str(broken))


def test_labels_not_matching_images_name_the_labels_file(tmp_path):
    root = write_mnist(tmp_path, n_train=4, n_test=2)
    other = write_mnist(tmp_path / "other", n_train=3, n_test=2)
    labels = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes((other / "MNIST" / "raw" / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(ConfigError) as error:
        build_dataset("mnist", root, "train")
    assert error.value.problem == f"{labels} holds 3 labels for 4 images in train-images-idx3-ubyte"


def test_md5_sums_are_checked_by_torchvision_only_when_fetching(tmp_path, monkeypatch):
    fetched = []
    monkeypatch.setattr(
        torchvision.datasets.mnist,
        "download_and_extract_archive",
        lambda url, download_root, filename, md5: fetched.append((filename, md5)),
    )
    root = write_mnist(tmp_path, n_train=4, n_test=2)
    assert len(build_dataset("mnist", root, "train", download=True)) == 4
    assert fetched == []  # the files are there: nothing fetched, nothing hashed
    with pytest.raises(ConfigError, match="cannot download mnist into"):
        build_dataset("mnist", tmp_path / "empty", "train", download=True)
    assert fetched == list(torchvision.datasets.MNIST.resources)


def test_datamodule_validates_on_the_t10k_split_at_image_size(mnist_root):
    config = DataConfig(
        dataset="mnist",
        train_path=str(mnist_root),
        num_workers=0,
        mean=[0.1307] * 3,
        std=[0.3081] * 3,
    )
    pipeline = AugmentationConfig(rrc=RandomResizedCropConfig(enabled=False), num_crops=1)
    module = PretrainDataModule(config, [pipeline], batch_size=8)
    module.setup("fit")
    images, labels = next(iter(module.val_dataloader()))
    assert images.shape == (8, 3, 32, 32)
    assert torch.equal(labels, torch.from_numpy(gray_split(20, 1)[1][:8]))
    batch = next(iter(module.train_dataloader()))
    views, _, _ = module.augment_batch(batch, epoch=0, batch_idx=0)
    assert [tuple(view.shape) for view in views] == [(8, 3, 32, 32)]
