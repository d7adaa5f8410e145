"""Pretraining through the Hydra config and the real loading code, for every data source."""

import json
import math

import pytest
import torch
from hydra_runs import metric_values, run_pretrain
from safetensors.torch import load_file

from hyperssl.backbones import create_backbone


def data_overrides(source, roots):
    if source == "digits":
        return ["data=digits"]
    if source == "stl10":
        return [
            "data=stl10",
            f"data.train_path={roots['stl10']}",
            "augmentations=symmetric",
            "augmentations.0.crop_size=32",
            "data.image_size=32",
        ]
    # 16 images: batches of 4 still give the 3 steps the test runs.
    small = ["optimizer.batch_size=4"]
    classes = [*small, "data.num_classes=2"] if source == "imagefolder" else small
    return [
        f"data={source}",
        f"data.train_path={roots[source]}",
        "augmentations=symmetric",
        *classes,
    ]


@pytest.fixture(scope="module")
def roots(cifar10_root, cifar100_root, stl10_root, image_folder_root, flat_folder_root):
    return {
        "cifar10": cifar10_root,
        "cifar100": cifar100_root,
        "stl10": stl10_root,
        "imagefolder": image_folder_root,
        "folder": flat_folder_root,
    }


@pytest.mark.parametrize(
    "source", ["digits", "cifar10", "cifar100", "stl10", "imagefolder", "folder"]
)
def test_pretrain_writes_a_complete_run_for_each_data_source(source, roots, tmp_path):
    summary = run_pretrain(data_overrides(source, roots), tmp_path)

    assert summary["global_step"] == 3
    assert math.isfinite(summary["train/loss"])
    if source == "folder":  # unlabelled: no probe loss or accuracy is reported
        assert not {"train/probe_loss", "train/probe_acc1"} & summary.keys()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert (tmp_path / "config.yaml").is_file()
    assert json.loads((tmp_path / "summary.json").read_text())["global_step"] == 3
    losses = metric_values(tmp_path, "train/loss")
    assert losses and all(math.isfinite(value) for value in losses)
    if source not in ("folder", "imagefolder"):  # no validation split given: no k-NN
        assert 0.0 <= summary["knn_top1"] <= 100.0


def test_backbone_safetensors_load_without_hyperssl_objects(tmp_path):
    run_pretrain([], tmp_path)
    weights = load_file(tmp_path / "backbone.safetensors")
    backbone = create_backbone("convnet4", image_size=32, width=8)
    backbone.load_state_dict(weights)
    assert backbone(torch.zeros(1, 3, 32, 32)).shape == (1, 64)
