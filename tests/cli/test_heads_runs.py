"""SimCLR with every loss head and both geometries, through the Hydra config."""

import math

import pytest
from hydra_runs import compose_pretrain, metric_columns, run_pretrain

from hyperssl import ConfigError
from hyperssl.layers.spherization import SphericLinear
from hyperssl.methods import create_method

HEAD_OVERRIDES = {
    "uniformity": ["heads=[uniformity]"],
    "align_uniform": ["heads=[align_uniform]"],
    "mhe": ["heads=[mhe]", "heads.mhe.power=a1", "heads.mhe.half_space=true"],
    "mhe_embeddings": ["heads=[mhe]", "heads.mhe.target=embeddings"],
    "uniformity+mhe": ["heads=[uniformity,mhe]"],
}


@pytest.mark.parametrize("geometry", ["cosine", "geodesic"])
@pytest.mark.parametrize("heads", sorted(HEAD_OVERRIDES))
def test_each_head_is_trained_and_logged(heads, geometry, tmp_path):
    overrides = [*HEAD_OVERRIDES[heads], f"geometry={geometry}"]
    summary = run_pretrain(overrides, tmp_path)
    columns = metric_columns(tmp_path)
    for head in heads.replace("_embeddings", "").split("+"):
        values = columns[f"train/{head}"]
        assert len(values) == 3 and all(math.isfinite(v) for v in values)
    nt_xent, total = columns["train/nt_xent"], columns["train/loss"]
    assert all(math.isfinite(v) for v in nt_xent) and math.isfinite(summary["train/loss"])
    assert total != nt_xent  # the heads' weighted terms are part of the loss


def test_a_head_whose_inputs_the_method_lacks_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="heads.hcr: needs logits, which method 'simclr'"):
        run_pretrain(["heads=[hcr]"], tmp_path)


def test_spherized_projector_ends_in_a_spheric_linear_layer_and_trains(tmp_path):
    summary = run_pretrain(["method.projector.spherize=true"], tmp_path / "run")
    assert math.isfinite(summary["train/loss"]) and summary["global_step"] == 3
    model = create_method(compose_pretrain(["method.projector.spherize=true"], tmp_path / "m"))
    assert isinstance(model.projector[-1], SphericLinear)
