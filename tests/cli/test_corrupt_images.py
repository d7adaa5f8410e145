"""Damaged image files in a pretraining folder: left out with ``data.skip_corrupt=true``, else one
error line naming the file, also when a DataLoader worker meets it."""

import logging

import pytest
from datasets_on_disk import damage, write_image_folder
from hydra_runs import run_pretrain
from torch.utils.data import DataLoader

from hyperssl import ConfigError
from hyperssl.cli.errors import describe_bad_input
from hyperssl.data.datasets import build_dataset

# 2 classes of 8 PNGs; batches of 4 leave 3 steps after 3 files are left out.
FOLDER = ["data=imagefolder", "augmentations=symmetric", "data.num_classes=2"]
BATCH = ["optimizer.batch_size=4"]


@pytest.fixture
def damaged_folder(tmp_path):
    root = write_image_folder(tmp_path / "images", classes=("a", "b"), n_per_class=8)
    for name, how in (
        ("a/a_003.png", "truncated"),
        ("b/b_000.png", "empty"),
        ("b/b_005.png", "garbage"),
    ):
        damage(root / name, how)
    return root


def test_skip_corrupt_pretrains_on_the_images_that_decode(damaged_folder, tmp_path, caplog):
    overrides = [*FOLDER, *BATCH, f"data.train_path={damaged_folder}", "data.skip_corrupt=true"]
    with caplog.at_level(logging.WARNING, logger="hyperssl"):
        summary = run_pretrain(overrides, tmp_path / "run")
    assert summary["global_step"] == 3
    left_out = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(left_out) == 1
    assert f"left out 3 of 16 images in {damaged_folder}" in left_out[0]


def test_without_skip_corrupt_a_damaged_image_stops_the_run_naming_it(damaged_folder, tmp_path):
    overrides = [*FOLDER, *BATCH, f"data.train_path={damaged_folder}", "trainer.max_epochs=3"]
    with pytest.raises(ConfigError, match="is not a readable image") as error:
        run_pretrain(overrides, tmp_path / "run")
    assert error.value.key == "data.train_path"
    assert error.value.problem.split(" is not")[0] in {
        str(damaged_folder / name) for name in ("a/a_003.png", "b/b_000.png", "b/b_005.png")
    }


def test_an_unreadable_image_met_in_a_loader_worker_is_described_in_one_line(damaged_folder):
    loader = DataLoader(build_dataset("folder", damaged_folder / "a"), batch_size=8, num_workers=1)
    with pytest.raises(RuntimeError) as error:
        list(loader)
    path = damaged_folder / "a" / "a_003.png"
    assert describe_bad_input(error.value) == (
        f"data.train_path: {path} is not a readable image: image file is truncated"
    )
