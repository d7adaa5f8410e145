"""Finding and loading a pretrained encoder from a checkpoint, run directory or safetensors."""

import json
import os
import shutil

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import save_file

from hyperssl import ConfigError
from hyperssl.cli.checkpoints import load_pretrained, resolve_pretrained
from hyperssl.eval.data import check_pretraining_data

IMAGES = torch.randn(4, 3, 32, 32)


def features(encoder):
    with torch.no_grad():
        return encoder.backbone(IMAGES)


def test_a_run_directory_means_its_last_checkpoint(pretrained_run):
    assert resolve_pretrained(str(pretrained_run)) == pretrained_run / "checkpoints" / "last.ckpt"


def test_checkpoint_and_safetensors_give_the_same_backbone(pretrained_run):
    from_checkpoint = load_pretrained(str(pretrained_run / "checkpoints" / "last.ckpt"))
    from_safetensors = load_pretrained(str(pretrained_run / "backbone.safetensors"))
    torch.testing.assert_close(features(from_checkpoint), features(from_safetensors))
    assert from_checkpoint.pretrain_cfg.method.name == "simclr"
    assert from_checkpoint.image_size == from_safetensors.image_size == 32
    assert not from_checkpoint.backbone.training


def test_safetensors_metadata_holds_the_stem_as_built(pretrained_run):
    """The run left small_stem at null (chosen by the crop size); the file says what was built,
    for readers without hyperssl."""
    from safetensors import safe_open

    assert OmegaConf.load(pretrained_run / "config.yaml").backbone.small_stem is None
    with safe_open(pretrained_run / "backbone.safetensors", "pt") as file:
        backbone = json.loads(file.metadata()["backbone"])
    assert backbone["small_stem"] is True  # 32-pixel crops: the small stem


def test_projector_is_loaded_with_its_saved_weights(pretrained_run):
    encoder = load_pretrained(str(pretrained_run), with_projector=True)
    saved = torch.load(pretrained_run / "checkpoints" / "last.ckpt", weights_only=True)
    for name, value in encoder.projector.state_dict().items():
        torch.testing.assert_close(value, saved["state_dict"][f"projector.{name}"])


def test_a_directory_of_checkpoints_uses_the_newest(pretrained_run, tmp_path):
    """solo-learn's --pretrained_checkpoint_dir: a folder holding .ckpt files."""
    for name, mtime in (("epoch=0.ckpt", 1_000), ("epoch=1.ckpt", 2_000)):
        shutil.copy(pretrained_run / "checkpoints" / "last.ckpt", tmp_path / name)
        os.utime(tmp_path / name, (mtime, mtime))
    assert resolve_pretrained(str(tmp_path)) == tmp_path / "epoch=1.ckpt"
    assert features(load_pretrained(str(tmp_path))).shape == (4, 64)


def test_latest_is_the_newest_pretraining_run_under_outputs(pretrained_run, tmp_path, monkeypatch):
    older, newer, probe = (tmp_path / "outputs" / name for name in ("a/1", "a/2", "linear/3"))
    for run, mtime in ((older, 1_000), (newer, 2_000), (probe, 3_000)):
        (run / "checkpoints").mkdir(parents=True)
        shutil.copy(pretrained_run / "checkpoints" / "last.ckpt", run / "checkpoints")
        os.utime(run / "checkpoints" / "last.ckpt", (mtime, mtime))
    (newer / "config.yaml").write_text("method:\n  name: simclr\n")
    (probe / "config.yaml").write_text("pretrained_feature_extractor: latest\n")  # a linear run
    monkeypatch.chdir(tmp_path)
    assert resolve_pretrained("latest").resolve() == (newer / "checkpoints" / "last.ckpt").resolve()


def test_latest_without_runs_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="latest: no run under .*; allowed: run python main_pre"):
        resolve_pretrained("latest")


def foreign_files(tmp_path, pretrained_run):
    torch.save({"state_dict": {}, "hyper_parameters": {}}, tmp_path / "other.ckpt")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    (tmp_path / "garbage.ckpt").write_bytes(b"\x00not a checkpoint")
    (tmp_path / "weights.pt").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "name,message",
    [
        ("nowhere", "nowhere does not exist; allowed: a .ckpt file, a run directory"),
        ("empty", "empty holds no checkpoint; allowed: a directory with checkpoints/last.ckpt"),
        ("garbage.ckpt", "garbage.ckpt is not a readable PyTorch checkpoint"),
        ("other.ckpt", "other.ckpt was not written by hyperssl's main_pretrain.py"),
        ("plain.safetensors", "plain.safetensors has no backbone metadata"),
        ("weights.pt", "weights.pt is neither a .ckpt nor a .safetensors file"),
    ],
)
def test_unusable_inputs_are_named_in_one_config_error(name, message, tmp_path, pretrained_run):
    folder = foreign_files(tmp_path, pretrained_run)
    with pytest.raises(ConfigError, match=f"^pretrained_feature_extractor: .*{message}"):
        load_pretrained(str(folder / name))


def test_safetensors_cannot_give_projector_outputs(pretrained_run):
    with pytest.raises(ConfigError, match="holds the backbone only, not the projector"):
        load_pretrained(str(pretrained_run / "backbone.safetensors"), with_projector=True)


def test_latest_records_its_run_and_the_data_set_it_was_pretrained_on(
    pretrained_run, tmp_path, monkeypatch
):
    run = tmp_path / "outputs" / "simclr-cifar10" / "1"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(pretrained_run / "checkpoints" / "last.ckpt", run / "checkpoints")
    monkeypatch.chdir(tmp_path)
    encoder = load_pretrained("latest")
    assert encoder.latest_run == run.resolve()
    assert encoder.pretrain_dataset == "cifar10"
    assert load_pretrained(str(run)).latest_run is None  # an explicit path


def test_safetensors_take_their_data_set_from_the_run_config_beside_them(pretrained_run, tmp_path):
    shutil.copy(pretrained_run / "backbone.safetensors", tmp_path)
    assert load_pretrained(str(tmp_path / "backbone.safetensors")).pretrain_dataset is None
    shutil.copy(pretrained_run / "config.yaml", tmp_path)
    encoder = load_pretrained(str(tmp_path / "backbone.safetensors"))
    assert encoder.pretrain_dataset == encoder.describe()["pretrain_dataset"] == "cifar10"


def test_latest_backbone_of_another_data_set_is_refused(pretrained_run, tmp_path, monkeypatch):
    run = tmp_path / "outputs" / "simclr-cifar10" / "1"
    run.mkdir(parents=True)
    for name in ("backbone.safetensors", "config.yaml"):
        shutil.copy(pretrained_run / name, run)
    monkeypatch.chdir(tmp_path)
    encoder = load_pretrained("latest")
    check_pretraining_data(encoder, "cifar10")  # its own data set
    with pytest.raises(
        ConfigError, match=f"^pretrained_feature_extractor: latest is {run.resolve()}"
    ):
        check_pretraining_data(encoder, "digits")
