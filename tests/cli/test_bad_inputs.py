"""Bad input through the real entry points: exit 2, one line naming the culprit, no traceback,
and no existing file touched. The cases run once per session, each in a fork of one process that
imported the entry point's dependencies (:func:`hydra_runs.run_entry_cases`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from datasets_on_disk import write_cifar10, write_flat_folder
from hydra_runs import TINY, run_entry_cases


def build_cases(root: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments of main_pretrain.py, start of the expected error line)."""
    cifar = write_cifar10(root / "cifar")
    truncated = write_cifar10(root / "truncated")
    batch = truncated / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    empty_folder = root / "empty_images"
    empty_folder.mkdir()
    one_image = write_flat_folder(root / "one_image", n=1)
    (root / "empty.ckpt").write_bytes(b"")
    (root / "notes.ckpt").write_text("not a checkpoint")
    torch.save({"state_dict": {}}, root / "foreign.ckpt")
    other = root / "other_arch.ckpt"
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": {
                "cfg": {"method": {"name": "simclr"}, "backbone": {"name": "resnet50"}}
            },
        },
        other,
    )
    done = root / "finished_run"
    done.mkdir()
    (done / "summary.json").write_text('{"knn_top1": 90.0}\n')
    (done / ".hydra").mkdir()  # Hydra's record of the earlier run must survive too
    (done / ".hydra" / "overrides.yaml").write_text("- method=simclr\n")
    (done / "pretrain.log").write_text("the earlier run's log\n")
    return (
        {
            "typo_in_key": (["method.temprature=0.1"], "error: method.temprature: unknown key"),
            "wrong_type": (["optimizer.lr=fast"], "error: optimizer.lr: Value 'fast'"),
            "unknown_method": (["method=simclrr"], "error: method: unknown option 'simclrr'"),
            "unknown_geometry": (["geometry=hyperbolic"], "error: geometry: unknown option"),
            "unknown_optimizer": (["optimizer=rmsprop"], "error: optimizer: unknown option"),
            "unknown_head": (["heads=[nope]"], "error: heads: unknown option 'nope'"),
            "negative_temperature": (
                ["method.temperature=-1"],
                "error: method.temperature: got -1.0",
            ),
            "unknown_dataset": (
                ["data.dataset=svhn"],
                "error: data.dataset: unknown data set 'svhn'; allowed: cifar10",
            ),
            "added_unknown_key": (
                ["+trainer.max_epoch=3"],
                "error: trainer.max_epoch: unknown key",
            ),
            "head_key_typo": (
                ["heads=[uniformity]", "heads.uniformity.tt=3"],
                "error: heads.uniformity.tt: unknown key",
            ),
            "zero_batch": (["optimizer.batch_size=0"], "error: optimizer.batch_size: got 0"),
            "unknown_backbone": (
                ["backbone.name=resnet19"],
                "error: backbone.name: unknown backbone 'resnet19'; allowed: cnn9",
            ),
            "unknown_timm_model": (
                ["backbone=timm", "backbone.model_name=not_a_model"],
                "error: backbone.model_name: unknown timm model",
            ),
            "precision": (["trainer.precision=17"], "error: trainer.precision: got '17'"),
            "zero_crop": (
                ["augmentations.0.crop_size=0"],
                "error: augmentations.0.crop_size: got 0",
            ),
            "probability": (
                ["augmentations.0.horizontal_flip.prob=1.5"],
                "error: augmentations.0.horizontal_flip.prob: got 1.5",
            ),
            "knn_k": (["knn.k=0"], "error: knn.k: got 0"),
            "val_fraction": (["data.val_fraction=1.5"], "error: data.val_fraction: got 1.5"),
            "missing_data_folder": (
                ["data=cifar10", f"data.train_path={root / 'nowhere'}"],
                "error: data.train_path: ",
            ),
            "truncated_cifar_batch": (
                ["data=cifar10", f"data.train_path={truncated}"],
                "error: data.train_path: ",
            ),
            "empty_image_folder": (
                ["data=folder", f"data.train_path={empty_folder}", "augmentations=symmetric"],
                "error: data.train_path: ",
            ),
            "digits_crops_of_folder_images": (
                ["data=folder", f"data.train_path={empty_folder}"],
                "error: augmentations.0.crop_size: got 32 for data.image_size 224",
            ),
            "digits_crops_of_stl10_images": (
                ["data=stl10", f"data.train_path={root / 'nowhere'}"],
                "error: augmentations.0.crop_size: got 32 for data.image_size 96",
            ),
            "queue_not_multiple": (
                ["method=mocov2plus", "method.queue_size=100"],
                "error: method.queue_size: 100 is not a multiple",
            ),
            "missing_checkpoint": (
                [f"resume={root / 'nowhere.ckpt'}"],
                "error: resume: no checkpoint",
            ),
            "empty_checkpoint": (
                [f"resume={root / 'empty.ckpt'}"],
                "error: resume: " + str(root / "empty.ckpt"),
            ),
            "text_file_checkpoint": (
                [f"resume={root / 'notes.ckpt'}"],
                "error: resume: " + str(root / "notes.ckpt"),
            ),
            "foreign_checkpoint": (
                [f"resume={root / 'foreign.ckpt'}"],
                "error: resume: " + str(root / "foreign.ckpt") + " is not a hyperssl",
            ),
            "other_architecture": (
                [f"resume={other}"],
                "error: resume: " + str(other) + " holds a",
            ),
            "existing_run_dir": ([], "error: hydra.run.dir: " + str(done) + " already holds a run"),
            "cifar_without_path": (
                ["data=cifar10", "data.train_path=null"],
                "error: data.train_path: is required",
            ),
            "huge_image_size": (["data.image_size=100000"], "error: data.image_size: got 100000"),
            "huge_crop": (
                ["augmentations.0.crop_size=1000000"],
                "error: augmentations.0.crop_size: got 1000000",
            ),
            "backbone_width_text": (["backbone.kwargs.width=abc"], "error: backbone.kwargs.width"),
            "backbone_width_zero": (
                ["backbone.kwargs.width=0"],
                "error: backbone.kwargs.width: got 0",
            ),
            "misspelt_backbone_kwarg": (
                ["+backbone.kwargs.widht=3"],
                "error: backbone.kwargs.widht: unknown key",
            ),
            "zero_devices": (["trainer.devices=0"], "error: trainer.devices: got 0"),
            "tpu": (["trainer.accelerator=tpu"], "error: trainer.accelerator: got 'tpu'"),
            "negative_checkpoint_interval": (
                ["checkpoint.every_n_epochs=-1"],
                "error: checkpoint.every_n_epochs: got -1",
            ),
            "negative_weight_decay": (
                ["optimizer.weight_decay=-1"],
                "error: optimizer.weight_decay: got -1.0",
            ),
            "negative_seed": (["seed=-1"], "error: seed: got -1"),
            "infinite_lr": (["optimizer.lr=inf"], "error: optimizer.lr: got inf"),
            "nan_head_weight": (
                ["heads=[uniformity]", "heads.uniformity.weight=nan"],
                "error: heads.uniformity.weight: got nan",
            ),
            "negative_head_weight": (
                ["heads=[uniformity]", "heads.uniformity.weight=-1"],
                "error: heads.uniformity.weight: got -1.0",
            ),
            "nan_normalisation_mean": (["data.mean=[nan,0.5,0.5]"], "error: data.mean.0: got nan"),
            "negative_warmup": (
                ["scheduler.warmup_epochs=-1"],
                "error: scheduler.warmup_epochs: got -1.0",
            ),
            "infinite_temperature": (
                ["method.temperature=inf"],
                "error: method.temperature: got inf",
            ),
            "no_training_batches": (
                ["trainer.limit_train_batches=0"],
                "error: trainer.limit_train_batches: got 0",
            ),
            "unquoted_path_with_a_space": (
                [f"data.train_path={root / 'my'}", "data"],
                "error: override 'data': not key=value; allowed: key=value, a value with spaces "
                "quoted whole",
            ),
            "unquoted_non_ascii_path": (
                ["data.train_path=/data/données"],
                "error: override 'data.train_path=/data/données': Hydra's override grammar takes "
                "this value only in quotes; allowed: \"data.train_path='/data/données'\"",
            ),
            "one_image_at_batch_1": (
                ["data=folder", f"data.train_path={one_image}", "data.image_size=32"]
                + ["optimizer.batch_size=1"],
                "error: optimizer.batch_size: got 1, but the BatchNorm1d layer 'projector.1' "
                "needs at least 2 samples",
            ),
            "timm_pretrained_weights": (
                ["backbone=timm", "+backbone.kwargs.pretrained=true"],
                "error: backbone.kwargs.pretrained: got True; allowed: false: weights are never "
                "downloaded",
            ),
        },
        cifar,
        done,
    )


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path): hashlib.sha1(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    cases, _, done = build_cases(root)
    before = snapshot(root)

    def arguments_of(name: str, arguments: list[str]) -> list[str]:
        run_dir = done if name == "existing_run_dir" else root / "runs" / name
        # A case choosing another backbone drops the TINY convnet's keys, which it lacks.
        other_backbone = any(argument.startswith("backbone=") for argument in arguments)
        tiny = [o for o in TINY if not o.startswith("backbone")] if other_backbone else TINY
        return [*tiny, *arguments, f"hydra.run.dir={run_dir}"]

    results = run_entry_cases(
        "main_pretrain.py",
        {name: arguments_of(name, arguments) for name, (arguments, _) in cases.items()},
    )
    return cases, results, before, snapshot(root)


CASE_NAMES = [
    "typo_in_key",
    "wrong_type",
    "unknown_method",
    "unknown_geometry",
    "unknown_optimizer",
    "unknown_head",
    "negative_temperature",
    "unknown_dataset",
    "added_unknown_key",
    "head_key_typo",
    "zero_batch",
    "unknown_backbone",
    "unknown_timm_model",
    "precision",
    "zero_crop",
    "probability",
    "knn_k",
    "val_fraction",
    "missing_data_folder",
    "truncated_cifar_batch",
    "empty_image_folder",
    "digits_crops_of_folder_images",
    "digits_crops_of_stl10_images",
    "queue_not_multiple",
    "missing_checkpoint",
    "empty_checkpoint",
    "text_file_checkpoint",
    "foreign_checkpoint",
    "other_architecture",
    "existing_run_dir",
    "cifar_without_path",
    "huge_image_size",
    "huge_crop",
    "backbone_width_text",
    "backbone_width_zero",
    "misspelt_backbone_kwarg",
    "zero_devices",
    "tpu",
    "negative_checkpoint_interval",
    "negative_weight_decay",
    "negative_seed",
    "infinite_lr",
    "nan_head_weight",
    "negative_head_weight",
    "nan_normalisation_mean",
    "negative_warmup",
    "infinite_temperature",
    "no_training_batches",
    "timm_pretrained_weights",
    "one_image_at_batch_1",
    "unquoted_path_with_a_space",
    "unquoted_non_ascii_path",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_exits_2_with_one_line_naming_the_culprit(name, outcomes):
    cases, results, _, _ = outcomes
    result = results[name]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert lines[0].startswith(cases[name][1]), lines[0]


def test_no_existing_file_changed_or_disappeared(outcomes):
    _, _, before, after = outcomes
    assert {path: after.get(path) for path in before} == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_documented_gpu_commands_say_in_one_line_that_there_is_no_gpu(tmp_path):
    """The README's DDP line and the GCL paper's preset, on a CPU-only machine."""
    no_gpu = (
        "error: trainer.accelerator: got 'gpu'; allowed: cpu or auto: this machine has no CUDA "
        "GPU (trainer=cpu runs on its CPU)"
    )
    gcl_preset = ["--config-path", "scripts/pretrain/cifar", "--config-name", "simclr.yaml"]
    results = run_entry_cases(
        "main_pretrain.py",
        {
            "ddp_on_8_gpus": ["trainer=ddp", "trainer.devices=8", f"hydra.run.dir={tmp_path}/a"],
            "gcl_preset": [
                *gcl_preset,
                f"data.train_path={tmp_path}",
                f"hydra.run.dir={tmp_path}/b",
            ],
        },
    )
    for result in results.values():
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.strip().splitlines() == [no_gpu]
