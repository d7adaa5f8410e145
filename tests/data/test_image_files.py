"""Folder data sets with damaged files on disk: an error naming the file, or, with
``skip_corrupt``, the files left out with one warning and a sample that breaks later replaced."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets_on_disk import damage, synthetic_images, write_flat_folder, write_image_folder
from PIL import Image

from hyperssl import ConfigError
from hyperssl.data.datasets import build_dataset

DAMAGES = ["truncated", "empty", "garbage"]


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """Classes a (4 PNGs, 2 JPEGs) and b (4 PNGs); a_000.jpg truncated, a_001.png empty, b_002.png
    garbage."""
    root = write_image_folder(tmp_path / "images", classes=("a", "b"), n_per_class=4)
    write_image_folder(root, classes=("a",), n_per_class=2, ext=".jpg", seed=7)
    damage(root / "a" / "a_000.jpg", "truncated")
    damage(root / "a" / "a_001.png", "empty")
    damage(root / "b" / "b_002.png", "garbage")
    return root


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_a_damaged_file_is_a_config_error_naming_it_without_skip_corrupt(tmp_path, how, ext):
    root = write_flat_folder(tmp_path, n=4, ext=ext)
    broken = damage(sorted(root.glob(f"*{ext}"))[0], how)
    dataset = build_dataset("folder", root)
    assert len(dataset) == 4
    with pytest.raises(ConfigError) as error:
        dataset[dataset.paths.index(broken)]
    assert error.value.key == "data.train_path"
    assert error.value.problem.startswith(f"{broken} is not a readable image: ")


def test_skip_corrupt_leaves_out_the_damaged_files_with_one_warning(mixed_folder, caplog):
    dataset = build_dataset("imagefolder", mixed_folder, skip_corrupt=True)
    assert len(dataset) == 7
    (warning,) = warnings_of(caplog)
    assert f"left out 3 of 10 images in {mixed_folder}" in warning
    for name in ("a/a_000.jpg", "a/a_001.png", "b/b_002.png"):
        assert str(mixed_folder / name) in warning


def test_skip_corrupt_keeps_the_other_images_their_labels_and_the_classes(mixed_folder):
    dataset = build_dataset("imagefolder", mixed_folder, skip_corrupt=True)
    names = [Path(path).name for path, _ in dataset.samples]
    assert names == [
        "a_000.png", "a_001.jpg", "a_002.png", "a_003.png", "b_000.png", "b_001.png", "b_003.png",
    ]  # fmt: skip
    assert dataset.targets == [0, 0, 0, 0, 1, 1, 1]
    assert dataset.classes == ["a", "b"]
    image, label = dataset[names.index("b_003.png")]
    np.testing.assert_array_equal(image.numpy(), synthetic_images(np.full(4, 1), 2, 32, 1)[3])
    assert label == 1


def test_skip_corrupt_catches_a_truncated_jpeg_that_pil_verify_passes(tmp_path):
    root = write_flat_folder(tmp_path, n=4, ext=".jpg")
    broken = damage(root / "image_000.jpg", "truncated")
    with Image.open(broken) as image:
        image.verify()  # reads the header only
    dataset = build_dataset("folder", root, skip_corrupt=True)
    assert broken not in dataset.paths
    assert len(dataset) == 3


def test_skip_corrupt_names_only_the_first_five_damaged_files(tmp_path, caplog):
    root = write_flat_folder(tmp_path, n=8)
    paths = sorted(root.rglob("*.png"))
    for path in paths[:7]:
        damage(path, "garbage")
    dataset = build_dataset("folder", root, skip_corrupt=True)
    assert dataset.paths == paths[7:]
    (warning,) = warnings_of(caplog)
    assert "left out 7 of 8 images" in warning
    assert sum(str(path) in warning for path in paths[:7]) == 5
    assert warning.endswith(", ...")


@pytest.mark.parametrize("name", ["folder", "imagefolder"])
def test_skip_corrupt_with_every_file_damaged_names_the_folder(tmp_path, name):
    root = write_image_folder(tmp_path / "images", classes=("a",), n_per_class=3)
    for path in (root / "a").iterdir():
        damage(path, "truncated")
    with pytest.raises(ConfigError) as error:
        build_dataset(name, root, skip_corrupt=True)
    assert error.value.key == "data.train_path"
    assert error.value.problem.startswith(f"none of the 3 images in {root} decodes: ")


@pytest.mark.parametrize("name", ["folder", "imagefolder"])
def test_skip_corrupt_replaces_a_file_damaged_later_by_the_next_sample(tmp_path, name, caplog):
    root = write_image_folder(tmp_path / "images", classes=("a", "b"), n_per_class=2)
    dataset = build_dataset(name, root, skip_corrupt=True)
    second = dataset[1]
    damage(root / "a" / "a_000.png", "truncated")

    image, label = dataset[0]

    assert torch.equal(image, second[0])
    assert label == second[1]
    (warning,) = warnings_of(caplog)
    assert warning.startswith(f"data.train_path: {root / 'a' / 'a_000.png'} is not a readable")
    assert warning.endswith("the next image is used instead (data.skip_corrupt=true)")


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P"])
def test_unlabelled_folder_images_of_other_modes_load_as_rgb(tmp_path, mode):
    root = write_image_folder(tmp_path, classes=("x",), n_per_class=1, mode=mode)
    image, _ = build_dataset("folder", root)[0]
    assert image.shape == (3, 32, 32)
    assert image.dtype == torch.uint8
    assert torch.equal(image[0], image[1]) == (mode in ("L", "LA"))


def test_16_bit_grayscale_keeps_its_high_byte_instead_of_saturating(tmp_path):
    pixels = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)  # 0 .. 65472
    (tmp_path / "x").mkdir()
    Image.fromarray(pixels).save(tmp_path / "x" / "depth.png")
    image, _ = build_dataset("folder", tmp_path)[0]
    expected = torch.from_numpy((pixels >> 8).astype(np.uint8))
    assert torch.equal(image, expected.expand(3, -1, -1))
