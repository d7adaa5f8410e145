"""Multi-crop (2 large + N small crops): which methods take it, the order of the pipelines, and
what a step does with the small crops."""

import pytest
import torch
from hydra_runs import TINY, compose_pretrain, metric_values, run_pretrain

from hyperssl import ConfigError
from hyperssl.heads import StepOutput
from hyperssl.methods import create_method
from hyperssl.validation import validate_pretrain

MULTI_CROP = ["augmentations=multicrop_digits"]


def test_a_method_without_a_multi_crop_objective_refuses_small_crops(tmp_path):
    cfg = compose_pretrain([*TINY, "method=byol", *MULTI_CROP], tmp_path)
    with pytest.raises(ConfigError, match=r"crops of sizes \[32, 16\] .* 'byol' does not take"):
        validate_pretrain(cfg)


def test_small_crops_listed_before_the_large_ones_are_refused(tmp_path):
    cfg = compose_pretrain(
        [*TINY, *MULTI_CROP, "augmentations.0.crop_size=16", "augmentations.1.crop_size=32"],
        tmp_path,
    )
    with pytest.raises(ConfigError, match="the large crops' pipelines first"):
        validate_pretrain(cfg)


def test_the_probe_reads_the_large_crops_and_the_objective_every_view(tmp_path):
    model = create_method(compose_pretrain([*TINY, *MULTI_CROP], tmp_path))
    assert model.num_large_views == 2
    seen: list[StepOutput] = []
    model.after_step = seen.append
    probe_rows = []
    model.classifier.register_forward_hook(lambda module, args, out: probe_rows.append(len(out)))
    model.log_dict = lambda *args, **kwargs: None
    views = [torch.randn(4, 3, 32, 32)] * 2 + [torch.randn(4, 3, 16, 16)] * 4
    labels = torch.arange(4)
    model.training_step((views, labels, labels), 0)
    (out,) = seen
    assert len(out.z) == 6 and out.num_large_views == 2 and len(out.large(out.z)) == 2
    assert probe_rows == [8]


def test_simclr_trains_on_two_large_and_four_small_crops(tmp_path):
    summary = run_pretrain([*MULTI_CROP, "geometry=geodesic"], tmp_path)
    losses = metric_values(tmp_path, "train/loss")
    assert summary["global_step"] == len(losses) == 3 and len(set(losses)) > 1
