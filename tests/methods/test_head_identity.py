"""Every head's value is counted once, under a log name of its own, even when a selected head
has the name of the method's objective (``method=simclr 'heads=[nt_xent]'``)."""

import math

import pytest
import torch
from hydra_runs import TINY, compose_pretrain, run_pretrain
from method_steps import training_step

from hyperssl.losses import nt_xent_views
from hyperssl.methods import create_method
from hyperssl.methods.base import unique_log_names

SAME_NAME = ["heads=[nt_xent]", "heads.nt_xent.temperature=0.5", "heads.nt_xent.weight=0.25"]


def test_log_names_keep_the_selected_heads_keys_and_rename_a_clashing_objective():
    assert unique_log_names("nt_xent", ["uniformity"]) == ["nt_xent", "uniformity"]
    assert unique_log_names("nt_xent", ["nt_xent", "mhe"]) == [
        "objective_nt_xent",
        "nt_xent",
        "mhe",
    ]


def test_the_objective_and_a_head_of_the_same_name_are_both_logged_and_summed(tmp_path):
    model = create_method(compose_pretrain([*TINY, *SAME_NAME], tmp_path))
    total, logged = training_step(model, seed=0)

    # The same views again (BatchNorm in training mode normalises by the batch: the same z).
    torch.manual_seed(0)
    views = [torch.randn(8, 3, 32, 32) for _ in range(2)]
    z = [v.detach() for v in model.embed(views, torch.arange(8)).z]
    objective, extra = nt_xent_views(z, 0.2), nt_xent_views(z, 0.5)
    assert logged["train/objective_nt_xent"].item() == pytest.approx(objective.item(), rel=1e-5)
    assert logged["train/nt_xent"].item() == pytest.approx(extra.item(), rel=1e-5)
    assert logged["train/loss"].item() == pytest.approx((objective + 0.25 * extra).item(), rel=1e-5)
    probe = logged["train/probe_loss"].item()
    assert total.item() == pytest.approx(logged["train/loss"].item() + probe, rel=1e-5)


def test_a_run_writes_both_columns(tmp_path):
    summary = run_pretrain(SAME_NAME, tmp_path)
    assert math.isfinite(summary["train/objective_nt_xent"])
    assert math.isfinite(summary["train/nt_xent"])
    assert summary["train/objective_nt_xent"] != summary["train/nt_xent"]
