"""scripts/benchmarks/fashion_mnist.py: which runs it starts, resuming, and how it reads them.

Nothing is trained here: the entry-point calls are recorded, and runs are summary.json files.
"""

import json
import math

import pytest
from script_modules import import_script


@pytest.fixture(scope="module")
def bench():
    return import_script("benchmarks", "fashion_mnist")


def claim(bench, name):
    (found,) = [claim for claim in bench.CLAIMS if claim.name == name]
    return found


def write_summary(directory, **values):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(values))


def test_each_run_is_one_entry_point_call_with_the_budget_and_seed(bench, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "call", lambda command, log: calls.append(command))
    mhe = claim(bench, "mhe")
    bench.run(mhe, mhe.arms[2], 6, tmp_path)
    (command,) = calls
    assert command[1:6] == [
        "main_pretrain.py",
        "--config-path",
        "scripts/benchmarks/fashion_mnist",
        "--config-name",
        "supervised_cnn.yaml",
    ]
    assert {"trainer.max_epochs=3", "heads=[mhe]", "heads.mhe.half_space=true", "seed=6"} <= set(
        command
    )
    assert f"hydra.run.dir={tmp_path / 'mhe' / 'half_mhe' / 'seed6'}" in command


def test_a_finished_run_is_skipped_and_an_interrupted_one_kept_aside(bench, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "call", lambda command, log: calls.append(command))
    mhe = claim(bench, "mhe")
    write_summary(tmp_path / "mhe" / "baseline" / "seed5", **{"val/acc1": 90.0})
    interrupted = tmp_path / "mhe" / "mhe" / "seed5"
    (interrupted / "checkpoints").mkdir(parents=True)
    bench.run(mhe, mhe.arms[0], 5, tmp_path)
    bench.run(mhe, mhe.arms[1], 5, tmp_path)
    assert len(calls) == 1 and f"hydra.run.dir={interrupted}" in calls[0]
    (aside,) = (tmp_path / "mhe" / "mhe").glob("seed5.incomplete-*")
    assert (aside / "checkpoints").is_dir()


def test_a_linear_claim_probes_each_pretrained_run_once(bench, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "call", lambda command, log: calls.append(command))
    gcl = claim(bench, "gcl")
    pretrained = tmp_path / "gcl" / "simclr-geodesic" / "seed5"
    write_summary(pretrained, knn_top1=80.0)
    bench.run(gcl, gcl.arms[1], 5, tmp_path)
    (command,) = calls
    assert command[1] == "main_linear.py"
    assert f"pretrained_feature_extractor={pretrained}" in command


def test_table_has_mean_and_std_over_seeds_and_the_verdict(bench, tmp_path):
    fnn = claim(bench, "spherization_fnn")
    accuracies = [(88.0, 87.8), (89.0, 88.6), (90.0, 89.1)]
    for seed, (plain, spherized) in zip((5, 6, 7), accuracies, strict=True):
        write_summary(tmp_path / fnn.name / "plain" / f"seed{seed}", **{"val/acc1": plain})
        write_summary(tmp_path / fnn.name / "spherized" / f"seed{seed}", **{"val/acc1": spherized})
    table, _ = bench.claim_table(fnn, tmp_path, (5, 6, 7))
    assert "| plain | 3 | 89.00 ± 1.00 |" in table
    assert "| spherized | 3 | 88.50 ± 0.66 |" in table
    assert "Reproduces: yes: spherized - plain = -0.50" in table


def test_table_says_when_runs_are_missing(bench, tmp_path):
    fnn = claim(bench, "spherization_fnn")
    write_summary(tmp_path / fnn.name / "plain" / "seed5", **{"val/acc1": 88.0})
    table, _ = bench.claim_table(fnn, tmp_path, (5, 6, 7))
    assert "| spherized | 0 | - |" in table and "Reproduces: not all runs done" in table


def test_improvement_counts_only_beyond_the_spread_over_seeds(bench):
    verdict = bench.improves(("mhe",), "baseline", "acc")
    runs = lambda *values: [{"acc": value} for value in values]  # noqa: E731
    assert verdict({"baseline": runs(90, 91, 92), "mhe": runs(93, 94, 95)}).startswith(
        "mhe: yes (+3.00"
    )
    assert "within noise" in verdict({"baseline": runs(90, 91, 92), "mhe": runs(90.5, 91, 92)})
    assert "mhe: no" in verdict({"baseline": runs(90, 91, 92), "mhe": runs(85, 86, 87)})


def test_align_uniform_verdict_reads_the_correlations_of_accuracy_with_both_losses(bench):
    verdict = bench.tracks_lower_losses("acc", ("align", "unif"))
    runs = {
        f"arm{i}": [{"acc": 80 + i, "align": 1.0 - 0.1 * i, "unif": -1.0 - 0.2 * i}]
        for i in range(4)
    }
    assert verdict(runs) == "yes: r(acc, align) = -1.00, r(acc, unif) = -1.00"
    assert math.isnan(bench.correlation([1.0, 1.0], [2.0, 3.0]))


@pytest.mark.parametrize("cuda", [False, True])
def test_the_gpu_claim_runs_by_default_only_where_cuda_is(bench, tmp_path, monkeypatch, cuda):
    ran = []
    monkeypatch.setattr(bench, "has_gpu", lambda: cuda)
    monkeypatch.setattr(bench, "run", lambda claim, arm, seed, out, extra: ran.append(claim.name))
    monkeypatch.setattr(bench.subprocess, "run", lambda *args, **kwargs: None)
    assert bench.main(["--out", str(tmp_path)]) == 0
    assert ("spherization_vgg11" in ran) == cuda
    assert {"spherization_fnn", "gcl"} <= set(ran)


def test_asking_for_the_gpu_claim_without_cuda_is_one_line_and_runs_nothing(
    bench, tmp_path, monkeypatch
):
    monkeypatch.setattr(bench, "has_gpu", lambda: False)
    monkeypatch.setattr(bench, "call", lambda command, log: pytest.fail("nothing may run"))
    with pytest.raises(SystemExit, match="spherization_vgg11 needs a GPU"):
        bench.main(["--out", str(tmp_path), "--claims", "spherization_vgg11"])
    assert not (tmp_path / "spherization_vgg11").exists()


def test_the_vgg11_claim_is_the_papers_fashion_mnist_recipe_in_full(bench):
    vgg = claim(bench, "spherization_vgg11")
    assert vgg.needs_gpu and vgg.budget == ("trainer.max_epochs=100",)
    assert vgg.config_name == "spherization_vgg11.yaml" and "94.36" in vgg.paper
