"""Every method trains a few steps on tiny on-disk CIFAR data."""

import math

import pytest
import torch
from hydra_runs import metric_values, run_pretrain
from method_overrides import small

from hyperssl import ConfigError
from hyperssl.methods import METHODS

# One view per image for the supervised method (its objective needs no pairs).
ONE_VIEW = {"supervised": ["augmentations.0.num_crops=1"]}


# The geodesic geometry: the step on real data is what this adds; every geometry with every
# method is one step of tests/methods/test_parts_matrix.py.
@pytest.mark.parametrize("method", METHODS.names())
def test_method_trains_with_a_finite_changing_loss(method, cifar10_root, tmp_path):
    summary = run_pretrain(
        [
            *small(method),
            "geometry=geodesic",
            "data=cifar10",
            f"data.train_path={cifar10_root}",
            "augmentations=symmetric",
            *ONE_VIEW.get(method, []),
        ],
        tmp_path,
    )
    losses = metric_values(tmp_path, "train/loss")
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert len(set(losses)) > 1
    assert summary["global_step"] == 3


def test_moco_queue_holds_the_keys_of_the_last_steps(cifar10_root, tmp_path):
    run_pretrain(
        [
            "method=mocov2plus",
            "method.queue_size=64",
            "data=cifar10",
            f"data.train_path={cifar10_root}",
            "augmentations=symmetric",
            "trainer.max_epochs=2",
        ],
        tmp_path,
    )
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    # 2 epochs x 3 steps x 16 keys per view through queues of 64: the pointer wrapped to 32.
    assert int(state["queue.ptr"]) == 96 % 64
    assert state["queue.items"].shape == (2, 64, 16)
    torch.testing.assert_close(state["queue.items"].norm(dim=2), torch.ones(2, 64))


def test_moco_queue_must_be_a_multiple_of_the_keys_per_step(tmp_path):
    with pytest.raises(ConfigError, match="method.queue_size: 100 is not a multiple"):
        run_pretrain(["method=mocov2plus", "method.queue_size=100"], tmp_path)


def test_supervised_with_a_spheric_classifier_and_mhe(tmp_path):
    summary = run_pretrain(
        [
            "method=supervised",
            "method.classifier=spheric",
            "augmentations.0.num_crops=1",
            "heads=[mhe]",
        ],
        tmp_path,
    )
    assert math.isfinite(summary["train/mhe"]) and math.isfinite(summary["train/cross_entropy"])


def test_supervised_with_hcr_on_a_contrastive_projection_head(tmp_path):
    summary = run_pretrain(
        [
            "method=supervised",
            "method.use_projector=true",
            "method.projector.hidden_dim=32",
            "method.projector.output_dim=16",
            "heads=[hcr,nt_xent]",
        ],
        tmp_path,
    )
    assert math.isfinite(summary["train/hcr"]) and math.isfinite(summary["train/nt_xent"])
