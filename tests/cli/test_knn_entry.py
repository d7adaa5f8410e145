"""main_knn.py: every combination in one table, Hydra spelling and GCL's flags verbatim."""

import csv
import json
import shlex
import shutil

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra_runs import compose_pretrain, read_metrics, run_entry, tensorboard_scalars

from hyperssl import ConfigError
from hyperssl.cli import knn
from hyperssl.cli.gcl_flags import quote, translate_gcl_flags
from hyperssl.eval.metrics import spread_metrics
from hyperssl.eval.schema import validate_knn

# GCL's README, verbatim (after "python3 main_knn.py").
GCL_COMMAND = r"""
    --dataset cifar100 \
    --train_data_path ./datasets \
    --val_data_path ./datasets \
    --pretrained_checkpoint_dir 'pretrained/checkpoint/dir' \
    --k 1 10 \
    --temperature 0.2 \
    --feature_type backbone \
    --distance_function cosine \
"""
GCL_FLAGS = shlex.split(GCL_COMMAND.replace("\\\n", " "))  # the shell joins lines


def test_gcl_flags_become_hydra_overrides():
    assert translate_gcl_flags(GCL_FLAGS) == [
        "data=cifar100",
        "data.train_path='./datasets'",
        "data.val_path='./datasets'",
        "pretrained_feature_extractor='pretrained/checkpoint/dir'",
        "knn.k=[1,10]",
        "knn.temperature=[0.2]",
        "knn.feature_type=[backbone]",
        "knn.distance_function=[cosine]",
    ]


def test_gcl_flags_mix_with_hydra_flags_and_overrides():
    argv = ["--config-name", "knn", "--k", "5", "knn.test_chunk_size=7", "--dataset=custom"]
    assert translate_gcl_flags(argv) == [
        "--config-name",
        "knn",
        "knn.k=[5]",
        "knn.test_chunk_size=7",
        "data=imagefolder",
    ]


@pytest.mark.parametrize("path", ["runs/0_geometry=geodesic", "it's here", "a, b [c]", "C:\\x\\"])
def test_any_path_survives_hydra_quoting(path):
    override = OverridesParser.create().parse_override(f"key={quote(path)}")
    assert override.value() == path


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--k"], "--k: needs a value"),
        (["--dataset", "--k", "1"], "--dataset: needs a value"),
        (["--data_format", "dali"], "--data_format: unknown flag; allowed: --dataset"),
        (["-k", "1"], "-k: unknown flag; allowed: --dataset"),
        (["--k", "1", "--k", "5"], "--k: given twice; allowed: once"),
        (["--k=1", "--temperature", "0.1", "--k", "5"], "--k: given twice"),
    ],
)
def test_bad_gcl_flags_are_config_errors(argv, message):
    with pytest.raises(ConfigError, match=message):
        translate_gcl_flags(argv)


def knn_overrides(pretrained_run, cifar10_root, cache_dir):
    return [
        f"pretrained_feature_extractor={pretrained_run}",
        "data=cifar10",
        f"data.train_path={cifar10_root}",
        "data.num_workers=0",
        f"feature_cache.dir={cache_dir}",
    ]


def run_knn(overrides, run_dir):
    return knn.run(compose_pretrain(overrides, run_dir, config_name="knn"))


def test_every_combination_is_in_the_table_csv_and_json(
    pretrained_run, cifar10_root, tmp_path, capsys
):
    sweep = [
        "knn.k=[1,10]",
        "knn.temperature=[0.07,0.2]",
        "knn.feature_type=[backbone,projector]",
        "knn.distance_function=[cosine,euclidean]",
        "knn.test_chunk_size=5",
        "knn.train_chunk_size=16",
    ]
    summary = run_knn([*knn_overrides(pretrained_run, cifar10_root, tmp_path), *sweep], tmp_path)
    with open(tmp_path / "knn.csv") as file:
        rows = list(csv.DictReader(file))
    # per feature type: 2 k x 2 T for cosine + 2 k for euclidean (which ignores T)
    assert len(rows) == 2 * (4 + 2)
    assert {(r["feature_type"], r["distance"]) for r in rows} == {
        (f, d) for f in ("backbone", "projector") for d in ("cosine", "euclidean")
    }
    results = json.loads((tmp_path / "knn.json").read_text())["results"]
    assert [r["top1"] for r in results] == [float(r["top1"]) for r in rows]
    assert summary["knn/backbone/cosine/k10/T0.2/top1"] == results[3]["top1"]
    assert summary["knn_best_top1"] == max(r["top1"] for r in results)
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["feature", "distance", "k", "T", "top-1", "top-5"]
    assert len([line for line in table.splitlines() if line.split()[0] == "projector"]) == 6


def test_summary_has_the_spread_of_each_feature_type_on_a_seeded_sample(
    pretrained_run, cifar10_root, tmp_path, capsys
):
    """The metrics of the first rows of the same seeded permutation: computed here by hand."""
    sweep = ["knn.k=[1]", "knn.feature_type=[backbone,projector]", "diagnostics_samples=5"]
    summary = run_knn([*knn_overrides(pretrained_run, cifar10_root, tmp_path), *sweep], tmp_path)
    (train_x,) = [
        entry["features"]
        for entry in (torch.load(path, weights_only=True) for path in tmp_path.glob("*.pt"))
        if json.loads(entry["meta"])["split"] == "train"
    ]
    rows = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(5))[:5]
    expected = spread_metrics(train_x[rows])
    for name, value in expected.items():
        assert summary[f"backbone/{name}"] == pytest.approx(value, rel=1e-5), name
    assert {f"projector/{name}" for name in expected} <= set(summary)
    assert f"backbone/rankme: {summary['backbone/rankme']:.4g}" in capsys.readouterr().out


def test_every_score_is_also_one_row_of_metrics_csv(pretrained_run, cifar10_root, tmp_path):
    sweep = [
        "knn.k=[1,10]",
        "knn.temperature=[0.2]",
        "knn.feature_type=[backbone]",
        "knn.distance_function=[cosine]",
        "diagnostics_samples=0",
    ]
    summary = run_knn([*knn_overrides(pretrained_run, cifar10_root, tmp_path), *sweep], tmp_path)
    (row,) = read_metrics(tmp_path)
    scores = {
        "knn_best_top1",
        "knn_best_top5",
        *(f"knn/backbone/cosine/k{k}/T0.2/top{n}" for k in (1, 10) for n in (1, 5)),
    }
    assert set(row) == scores | {"step"}
    assert {name: float(row[name]) for name in scores} == {name: summary[name] for name in scores}


def test_scores_reach_tensorboard_too(pretrained_run, cifar10_root, tmp_path):
    pytest.importorskip("tensorboard", reason="pip install 'hyperssl[tensorboard]'")
    overrides = [*knn_overrides(pretrained_run, cifar10_root, tmp_path), "logger=tensorboard"]
    summary = run_knn([*overrides, "knn.k=[1]", "knn.temperature=[0.2]"], tmp_path)
    scalars = tensorboard_scalars(tmp_path)
    assert scalars["knn_best_top1"] == [pytest.approx(summary["knn_best_top1"])]
    assert (tmp_path / "metrics.csv").is_file()


def test_k_beyond_the_train_set_is_a_config_error(pretrained_run, cifar10_root, tmp_path):
    overrides = [*knn_overrides(pretrained_run, cifar10_root, tmp_path), "knn.k=[1,65]"]
    with pytest.raises(ConfigError, match="knn.k: 65 exceeds the 64 training images"):
        run_knn(overrides, tmp_path)


def test_gcl_knn_command_runs_verbatim(pretrained_run, cifar100_root, tmp_path):
    """The README's command in a folder holding ./datasets (CIFAR-100 in torchvision's layout)
    and pretrained/checkpoint/dir (a .ckpt, as solo-learn leaves it)."""
    (tmp_path / "datasets").symlink_to(cifar100_root, target_is_directory=True)
    checkpoint_dir = tmp_path / "pretrained" / "checkpoint" / "dir"
    checkpoint_dir.mkdir(parents=True)
    shutil.copy(pretrained_run / "checkpoints" / "last.ckpt", checkpoint_dir / "simclr-ep=1.ckpt")
    run_dir = tmp_path / "run"
    tiny = ["--num_workers", "0", f"feature_cache.dir={tmp_path}", f"hydra.run.dir={run_dir}"]
    result = run_entry("main_knn.py", [*GCL_FLAGS, *tiny], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(run_dir / "knn.csv") as file:
        rows = list(csv.DictReader(file))
    assert [(r["feature_type"], r["distance"], r["k"], r["temperature"]) for r in rows] == [
        ("backbone", "cosine", "1", "0.2"),
        ("backbone", "cosine", "10", "0.2"),
    ]
    assert "backbone    cosine  10  0.2" in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["dataset"] == "cifar100" and summary["num_val"] == 32
    assert summary["pretrained"].endswith("simclr-ep=1.ckpt")


def test_a_single_diagnostics_sample_is_a_config_error(tmp_path):
    cfg = compose_pretrain(["diagnostics_samples=1"], tmp_path, config_name="knn")
    with pytest.raises(ConfigError, match=r"diagnostics_samples: got 1; allowed: 0 \(none\)"):
        validate_knn(cfg)
