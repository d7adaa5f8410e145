"""Same config and seed, same machine: the same loss curve and the same weights, step for step."""

import pytest
import torch
from hydra_runs import metric_by_step, run_pretrain

RUN = [
    "trainer.deterministic=true",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=0",
    "knn.enabled=false",
]


def loss_curve(run_dir):
    return metric_by_step(run_dir, "train/loss")


def final_weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param([], id="batched-augmentation"),
        pytest.param(["data.augment_on=workers", "data.num_workers=2"], id="per-image-in-workers"),
    ],
)
def test_same_seed_gives_the_same_loss_curve_and_weights(setting, tmp_path):
    first, second, other = (tmp_path / name for name in ("first", "second", "other_seed"))
    run_pretrain([*RUN, *setting], first)
    run_pretrain([*RUN, *setting], second)
    run_pretrain([*RUN, *setting, "seed=6"], other)

    curve = loss_curve(first)
    assert len(curve) == 6
    assert loss_curve(second) == curve  # exactly, not approximately
    assert loss_curve(other) != curve
    weights, again = final_weights(first), final_weights(second)
    assert all(torch.equal(again[name], value) for name, value in weights.items())
