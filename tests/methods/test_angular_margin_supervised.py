"""The supervised method with an angular-margin classifier: the margin in training steps only,
SphereFace+'s MHE term on the class weights, and SphereFace's step counter in a real run."""

import math

import pytest
import torch
from hydra_runs import REPO, TINY, compose_pretrain, metric_values, run_pretrain_preset
from method_steps import training_step

from hyperssl import ConfigError
from hyperssl.losses import mhe_energy
from hyperssl.methods import create_method
from hyperssl.validation import validate_pretrain

DIGITS = REPO / "scripts" / "supervised" / "digits"
ONE_VIEW = ["method=supervised", "augmentations.0.num_crops=1"]


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    # The presets find configs/ and their parts through relative `hydra.searchpath` entries.
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("classifier", ["sphereface", "cosface", "arcface"])
def test_training_logits_carry_the_margin_and_validation_logits_do_not(classifier, tmp_path):
    model = create_method(
        compose_pretrain([*TINY, *ONE_VIEW, f"method.classifier={classifier}"], tmp_path)
    )
    torch.manual_seed(0)
    images, labels = torch.randn(6, 3, 32, 32), torch.tensor([0, 3, 9, 3, -1, 5])
    out = model.embed([images], labels)
    plain = model.classify(torch.cat(out.feats))  # what validation_step reads
    changed = ~torch.isclose(out.logits, plain)
    targets = torch.nn.functional.one_hot(labels.clamp_min(0), 10).bool()
    targets[labels < 0] = False
    assert torch.equal(changed, targets)


def test_sphereface_plus_preset_adds_the_energy_of_the_class_weights_only(tmp_path):
    cfg = compose_pretrain([*TINY], tmp_path, DIGITS, "sphereface_plus.yaml")
    model = create_method(cfg)
    _, logged = training_step(model)
    weight = model.classifier.weight.detach()
    expected = cfg.heads.mhe.final_weight * mhe_energy(weight, cfg.heads.mhe.power)
    assert logged["train/mhe"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_bad_margin_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"^method\.arcface\.margin: got 4\.0"):
        validate_pretrain(compose_pretrain([*ONE_VIEW, "method.arcface.margin=4.0"], tmp_path))


def test_sphereface_plus_run_logs_mhe_and_checkpoints_the_step_counter(tmp_path):
    summary = run_pretrain_preset(DIGITS / "sphereface_plus.yaml", tmp_path)
    mhe = metric_values(tmp_path, "train/mhe")
    assert len(mhe) == 3 and all(math.isfinite(value) and value > 0 for value in mhe)
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    # One step per training forward; the validation batches in between did not count.
    assert int(state["classifier.iteration"]) == summary["global_step"] == 3
