"""Folder data sets: the default digits augmentation (32-pixel crops) is refused for 224-pixel
images, and unlabelled images report no probe accuracy or loss (they would read 0)."""

import pytest
from hydra_runs import compose_pretrain, metric_columns, run_pretrain

from hyperssl import ConfigError
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.data.schema import AugmentationConfig
from hyperssl.validation import validate_pretrain


def validate(overrides, tmp_path):
    validate_pretrain(compose_pretrain(overrides, tmp_path))


@pytest.mark.parametrize(
    "data", [["data=folder"], ["data=imagefolder"], ["data=folder", "data.image_size=224"]]
)
def test_digits_crops_of_folder_images_are_refused(data, flat_folder_root, tmp_path):
    with pytest.raises(ConfigError) as error:
        validate([*data, f"data.train_path={flat_folder_root}"], tmp_path)
    assert str(error.value).startswith(
        "augmentations.0.crop_size: got 32 for data.image_size 224 (data set "
    )
    assert "allowed: an augmentations preset whose crop_size follows data.image_size" in str(
        error.value
    )
    assert "scripts/pretrain/custom/" in str(error.value)


@pytest.mark.parametrize(
    "overrides",
    [
        ["augmentations=symmetric"],  # crop_size follows data.image_size: 224
        ["data.image_size=32"],  # the digits crops, evaluated at their own size
        ["data.image_size=48"],  # within a factor 2
        ["augmentations=asymmetric", "augmentations.1.crop_size=96"],  # smaller local views
    ],
)
def test_crops_near_the_image_size_are_accepted(overrides, flat_folder_root, tmp_path):
    validate(["data=folder", f"data.train_path={flat_folder_root}", *overrides], tmp_path)


def test_a_larger_image_size_than_twice_the_crop_names_the_largest_pipeline(tmp_path):
    overrides = ["augmentations=asymmetric", "augmentations.1.crop_size=65", "data.image_size=32"]
    with pytest.raises(ConfigError, match=r"^augmentations\.1\.crop_size: got 65 for data\."):
        validate(overrides, tmp_path)


@pytest.mark.parametrize("dataset,labelled", [("folder", False), ("imagefolder", True)])
def test_the_data_module_knows_whether_its_images_are_labelled(
    dataset, labelled, flat_folder_root, image_folder_root, tmp_path
):
    root = flat_folder_root if dataset == "folder" else image_folder_root
    data = compose_pretrain(
        [f"data={dataset}", f"data.train_path={root}", "data.num_classes=2"], tmp_path
    ).data
    assert PretrainDataModule(data, [AugmentationConfig()], batch_size=4).labelled is labelled


def test_unlabelled_folder_logs_no_probe_accuracy_or_loss(flat_folder_root, tmp_path):
    overrides = [
        "data=folder",
        f"data.train_path={flat_folder_root}",
        "data.image_size=32",
        "optimizer.batch_size=4",
    ]
    summary = run_pretrain(overrides, tmp_path)
    logged = {name for name, values in metric_columns(tmp_path).items() if values}
    assert summary["global_step"] == 3 and "train/loss" in logged
    probe = {"train/probe_acc1", "train/probe_loss"}
    assert not probe & logged and not probe & summary.keys()


def test_labelled_folder_still_logs_the_probe(image_folder_root, tmp_path):
    overrides = [
        "data=imagefolder",
        f"data.train_path={image_folder_root}",
        "data.num_classes=2",
        "data.image_size=32",
        "optimizer.batch_size=4",
    ]
    run_pretrain(overrides, tmp_path)
    columns = metric_columns(tmp_path)
    assert columns["train/probe_loss"] and all(v > 0 for v in columns["train/probe_loss"])
    assert all(0.0 <= v <= 100.0 for v in columns["train/probe_acc1"])
