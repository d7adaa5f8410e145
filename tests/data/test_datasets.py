"""The loaders read back exactly what the on-disk fixtures wrote, and fail with a ConfigError."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from datasets_on_disk import (
    synthetic_images,
    synthetic_split,
    write_cifar10,
    write_image_folder,
    write_stl10,
)
from PIL import Image

from hyperssl import ConfigError
from hyperssl.data.datasets import build_dataset


def _stack(dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(images).numpy(), np.array(labels)


@pytest.mark.parametrize(("split", "n", "seed"), [("train", 64, 0), ("val", 32, 1)])
def test_cifar10_reads_back_written_pixels_and_labels(cifar10_root, split, n, seed):
    images, labels = _stack(build_dataset("cifar10", cifar10_root, split))
    expected_images, expected_labels = synthetic_split(n, 10, 32, seed)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_cifar100_reads_fine_labels_and_100_classes(cifar100_root):
    dataset = build_dataset("cifar100", cifar100_root, "train")
    images, labels = _stack(dataset)
    expected_images, expected_labels = synthetic_split(64, 100, 32, 0)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    assert len(dataset.classes) == 100


def test_cifar_sample_is_uint8_chw_and_int_label(cifar10_root):
    image, label = build_dataset("cifar10", cifar10_root, "train")[0]
    assert image.dtype == torch.uint8
    assert image.shape == (3, 32, 32)
    assert isinstance(label, int)


def test_cifar_missing_batch_names_the_file(tmp_path):
    root = write_cifar10(tmp_path, n_train=10, n_test=5)
    missing = root / "cifar-10-batches-py" / "data_batch_3"
    missing.unlink()
    with pytest.raises(ConfigError) as error:
        build_dataset("cifar10", root, "train")
    assert error.value.key == "data.train_path"
    assert error.value.problem == f"{missing} is missing"
    assert "data.download=true" in error.value.allowed


def test_cifar_missing_root_names_the_first_file_and_the_key(tmp_path):
    with pytest.raises(ConfigError) as error:
        build_dataset("cifar100", tmp_path / "nowhere", "val", key="data.val_path")
    assert error.value.key == "data.val_path"
    assert str(tmp_path / "nowhere" / "cifar-100-python" / "test") in error.value.problem


def test_cifar_truncated_pickle_names_the_file(tmp_path):
    root = write_cifar10(tmp_path, n_train=10, n_test=5)
    broken = root / "cifar-10-batches-py" / "data_batch_2"
    broken.write_bytes(broken.read_bytes()[:500])
    with pytest.raises(ConfigError, match="is not a CIFAR pickle batch") as error:
        build_dataset("cifar10", root, "train")
    assert error.value.problem.startswith(f"{broken} is not a CIFAR pickle batch: ")


def test_cifar_labels_not_matching_images_name_the_file(tmp_path):
    root = write_cifar10(tmp_path, n_train=10, n_test=5)
    path = root / "cifar-10-batches-py" / "test_batch"
    with open(path, "rb") as file:
        batch = pickle.load(file)
    batch["labels"] = batch["labels"][:-1]
    with open(path, "wb") as file:
        pickle.dump(batch, file)
    with pytest.raises(ConfigError, match="4 labels, not 3072 per image") as error:
        build_dataset("cifar10", root, "val")
    assert error.value.problem.startswith(str(path))


def test_stl10_reads_back_column_major_images_upright(stl10_root):
    images, labels = _stack(build_dataset("stl10", stl10_root, "train"))
    expected_images, expected_labels = synthetic_split(32, 10, 96, 0)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_stl10_val_is_the_test_split(stl10_root):
    images, labels = _stack(build_dataset("stl10", stl10_root, "val"))
    expected_images, expected_labels = synthetic_split(16, 10, 96, 1)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_stl10_train_plus_unlabeled_appends_unlabelled_images(stl10_root):
    dataset = build_dataset("stl10", stl10_root, "train+unlabeled")
    images, labels = _stack(dataset)
    assert len(dataset) == 32 + 16
    np.testing.assert_array_equal(labels[:32], synthetic_split(32, 10, 96, 0)[1])
    assert (labels[32:] == -1).all()
    np.testing.assert_array_equal(images[32:], synthetic_split(16, 10, 96, 2)[0])
    assert dataset.classes[0] == "airplane"


def test_stl10_without_unlabeled_file_pretrains_on_train(tmp_path):
    root = write_stl10(tmp_path, n_train=6, n_test=3, n_unlabeled=0)
    dataset = build_dataset("stl10", root, "train+unlabeled")
    assert len(dataset) == 6


def test_stl10_truncated_binary_names_the_file(tmp_path):
    root = write_stl10(tmp_path, n_train=4, n_test=2, n_unlabeled=0)
    broken = root / "stl10_binary" / "train_X.bin"
    broken.write_bytes(broken.read_bytes()[:-100])
    with pytest.raises(ConfigError, match="not an STL-10 image binary") as error:
        build_dataset("stl10", root, "train")
    assert error.value.problem.startswith(str(broken))


def test_stl10_missing_labels_file_names_it(tmp_path):
    root = write_stl10(tmp_path, n_train=4, n_test=2, n_unlabeled=0)
    missing = root / "stl10_binary" / "test_y.bin"
    missing.unlink()
    with pytest.raises(ConfigError) as error:
        build_dataset("stl10", root, "val")
    assert error.value.problem == f"{missing} is missing"


def test_digits_split_sizes_are_stratified_and_fixed_by_seed():
    train = build_dataset("digits", None, "train", seed=3, val_fraction=0.2)
    val = build_dataset("digits", None, "val", seed=3, val_fraction=0.2)
    again = build_dataset("digits", None, "val", seed=3, val_fraction=0.2)
    other = build_dataset("digits", None, "val", seed=4, val_fraction=0.2)
    assert (len(train), len(val)) == (1437, 360)
    assert torch.equal(val.images, again.images)
    assert not torch.equal(val.images, other.images)
    counts = torch.bincount(val.labels, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 37  # 20% of 174..183 per class


def test_digits_images_are_32px_gray_uint8_spanning_0_to_255():
    dataset = build_dataset("digits", None, "train", val_fraction=0.0)
    assert len(dataset) == 1797
    assert dataset.images.shape == (1797, 3, 32, 32)
    assert dataset.images.dtype == torch.uint8
    assert torch.equal(dataset.images[:, 0], dataset.images[:, 2])
    assert (dataset.images.min(), dataset.images.max()) == (0, 255)


def test_image_folder_reads_back_pngs_with_class_labels(image_folder_root):
    dataset = build_dataset("imagefolder", image_folder_root)
    images, labels = _stack(dataset)
    assert dataset.classes == ["a", "b"]
    np.testing.assert_array_equal(labels, [0] * 8 + [1] * 8)
    np.testing.assert_array_equal(images[8:], synthetic_images(np.full(8, 1), 2, 32, seed=1))


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_image_folder_converts_other_modes_to_rgb(tmp_path, mode):
    root = write_image_folder(tmp_path, classes=("x",), n_per_class=2, mode=mode)
    image, _ = build_dataset("imagefolder", root)[0]
    assert image.shape == (3, 32, 32)
    assert image.dtype == torch.uint8
    rgb = synthetic_images(np.zeros(2, dtype=int), 1, 32, seed=0)[0]
    if mode == "L":
        gray = np.asarray(Image.fromarray(rgb.transpose(1, 2, 0)).convert("L"))
        np.testing.assert_array_equal(image.numpy(), np.stack([gray] * 3))
    if mode == "RGBA":  # the alpha channel is dropped, colours kept
        np.testing.assert_array_equal(image.numpy(), rgb)


def test_flat_folder_finds_nested_images_unlabelled_and_skips_other_files(flat_folder_root):
    dataset = build_dataset("folder", flat_folder_root)
    images, labels = _stack(dataset)
    assert len(dataset) == 16
    assert (labels == -1).all()
    assert sum(path.parent.name == "nested" for path in dataset.paths) == 8
    expected = synthetic_split(16, 4, 32, 0)[0]
    assert {image.tobytes() for image in images} == {image.tobytes() for image in expected}


@pytest.mark.parametrize("name", ["folder", "imagefolder"])
def test_empty_folder_names_the_folder(tmp_path, name):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no images found in") as error:
        build_dataset(name, tmp_path / "empty")
    assert str(tmp_path / "empty") in error.value.problem


def test_missing_folder_names_it(tmp_path):
    with pytest.raises(ConfigError) as error:
        build_dataset("folder", tmp_path / "absent")
    assert error.value.problem == f"{tmp_path / 'absent'} is missing"


def test_unreadable_image_names_the_file(tmp_path):
    write_image_folder(tmp_path, classes=("x",), n_per_class=1)
    broken = Path(tmp_path) / "x" / "x_000.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(ConfigError, match="is not a readable image"):
        build_dataset("imagefolder", tmp_path)[0]


def test_md5_sums_are_checked_only_when_downloading(tmp_path, monkeypatch):
    root = write_cifar10(tmp_path, n_train=10, n_test=5)  # its sums differ from the real files'
    fetched = []
    monkeypatch.setattr(
        torchvision.datasets.cifar,
        "download_and_extract_archive",
        lambda url, *args, **kwargs: fetched.append(url),
    )
    assert len(build_dataset("cifar10", root, "train", download=False)) == 10
    assert fetched == []
    with pytest.raises(ConfigError, match="fails torchvision's MD5 check"):
        build_dataset("cifar10", root, "train", download=True)
    assert fetched == [torchvision.datasets.CIFAR10.url]
