"""Every preset under scripts/ composes with Hydra and passes validation; digits presets train."""

import pytest
from hydra_runs import REPO, compose_pretrain, run_pretrain_preset

from hyperssl.methods import METHODS
from hyperssl.validation import validate_pretrain

PRESETS = sorted(
    path
    for folder in ("pretrain", "supervised", "benchmarks")
    for path in (REPO / "scripts" / folder).rglob("*.yaml")
    if path.parent.name != "setups"  # parts that presets compose, not presets
)
DIGITS = [path for path in PRESETS if path.parent.name == "digits"]


def test_there_is_a_preset_for_every_paper_experiment():
    names = {str(path.relative_to(REPO / "scripts")) for path in PRESETS}
    assert {
        "pretrain/cifar/simclr.yaml",
        "pretrain/cifar/mocov2plus.yaml",
        "pretrain/cifar/mocov3.yaml",
        "pretrain/cifar/byol.yaml",
        "pretrain/stl10/align_uniform.yaml",
        "supervised/cifar100/baseline.yaml",
        "supervised/cifar100/mhe.yaml",
        "supervised/cifar100/half_mhe.yaml",
        "supervised/cifar10/hcr.yaml",
        "supervised/mnist/spherization_fnn.yaml",
        "supervised/cifar10/spherization_vgg11.yaml",
        "supervised/cifar100/spherization_vgg11.yaml",
        "supervised/digits/linear.yaml",
        "supervised/digits/sphereface.yaml",
        "supervised/digits/cosface.yaml",
        "supervised/digits/arcface.yaml",
        "supervised/digits/sphereface_plus.yaml",
    } <= names
    assert {p.stem for p in DIGITS} >= set(METHODS.names()), "every method has a digits preset"


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    # Presets find configs/ through `hydra.searchpath: [file://configs]`, relative to the cwd.
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: str(p.relative_to(REPO / "scripts")))
def test_preset_composes_validates_and_states_its_source(preset, tmp_path):
    cfg = compose_pretrain(
        ["data.train_path=/data/somewhere"],
        tmp_path,
        config_dir=preset.parent,
        config_name=preset.name,
    )
    validate_pretrain(cfg)
    header = preset.read_text().split("defaults:")[0].lower()
    assert any(word in header for word in ("expect", "reports")), "no expected result stated"


@pytest.mark.parametrize("preset", DIGITS, ids=lambda p: p.stem)
def test_digits_preset_trains_a_few_steps(preset, tmp_path):
    summary = run_pretrain_preset(preset, tmp_path)
    assert summary["global_step"] == 3
