"""Opt-in speed settings: channels-last convolutions and ``compile=true`` (with its fallback)."""

import warnings

import pytest
import torch
from hydra_runs import metric_by_step, metric_values, run_pretrain
from torch._dynamo.utils import counters

from hyperssl.cli import pretrain
from hyperssl.methods.performance import compile_modules

RUN = ["trainer.limit_train_batches=3", "trainer.limit_val_batches=0", "knn.enabled=false"]


def trained_model(overrides, run_dir, monkeypatch):
    """Run pretraining and return the fitted method."""
    fitted = {}
    fit = pretrain.pl.Trainer.fit

    def fit_and_keep(self, model, *args, **kwargs):
        fitted["model"] = model
        return fit(self, model, *args, **kwargs)

    monkeypatch.setattr(pretrain.pl.Trainer, "fit", fit_and_keep)
    summary = run_pretrain([*RUN, *overrides], run_dir)
    return fitted["model"], summary


def test_channels_last_trains_the_same_model_in_the_other_layout(tmp_path, monkeypatch):
    trained_model(["trainer.channels_last=false"], tmp_path / "plain", monkeypatch)
    last, _ = trained_model([], tmp_path / "last", monkeypatch)  # channels-last by default
    convs = [p for p in last.backbone.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not all(p.is_contiguous() for p in convs)
    # The same model: the first step's loss agrees to float rounding (the layouts sum in other
    # orders, which training then amplifies a little).
    plain_losses, last_losses = losses(tmp_path / "plain"), losses(tmp_path / "last")
    assert len(last_losses) == len(plain_losses) == 3
    assert last_losses[0] == pytest.approx(plain_losses[0], rel=1e-5)
    assert last_losses == pytest.approx(plain_losses, rel=1e-2)


def losses(run_dir):
    return metric_values(run_dir, "train/loss")


def test_compile_true_trains_and_keeps_eager_parameter_names(tmp_path, monkeypatch):
    counters.clear()
    model, summary = trained_model(["compile=true"], tmp_path, monkeypatch)
    assert counters["stats"]["unique_graphs"] >= 2  # compiled for real, not fallen back
    assert model.backbone._compiled_call_impl is not None
    assert model.projector._compiled_call_impl is not None
    assert model.classifier._compiled_call_impl is None
    assert torch.isfinite(torch.tensor(summary["train/loss"]))
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert set(saved) == set(model.state_dict()) and not any("_orig_mod" in k for k in saved)


def test_compile_falls_back_to_eager_where_dynamo_is_unsupported(monkeypatch):
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert compile_modules(model) == []
    assert "training eagerly" in str(caught[-1].message)
    assert model[0]._compiled_call_impl is None
    assert model(torch.ones(1, 2)).shape == (1, 2)


def test_only_written_steps_log_and_the_last_step_always_does(tmp_path, monkeypatch):
    calls = []
    log_dict = pretrain.pl.LightningModule.log_dict

    def counting_log_dict(self, metrics, *args, **kwargs):
        if "train/loss" in metrics:
            calls.append(self.global_step)
        return log_dict(self, metrics, *args, **kwargs)

    monkeypatch.setattr(pretrain.pl.LightningModule, "log_dict", counting_log_dict)
    overrides = ["trainer.log_every_n_steps=2", "trainer.limit_train_batches=5"]
    _, summary = trained_model(overrides, tmp_path, monkeypatch)
    # Steps 2 and 4 (global steps 1, 3) by log_every_n_steps; the last, step 5, for the summary.
    assert calls == [1, 3, 4]
    assert [step for step, _ in loss_rows(tmp_path)] == [1, 3]  # what Lightning writes
    assert summary["train/loss"] not in [loss for _, loss in loss_rows(tmp_path)]


def loss_rows(run_dir):
    return metric_by_step(run_dir, "train/loss")
