"""scripts/benchmark.py runs every section at the tiniest settings and writes a complete JSON.

Timings are never asserted: only that every measured number is there and positive.
"""

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
import torch

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

TINY = [
    "--backbone", "convnet4",
    "--override", "backbone.kwargs.width=8", "method.projector.hidden_dim=32",
    "--batch-size", "8", "--warmup", "1", "--steps", "1",
    "--heads", "uniformity", "hcr",
    "--knn-train", "64", "--knn-test", "16",
    "--probe-samples", "64", "--probe-epochs", "2",
    "--extract-images", "16", "--aug-images", "4",
]  # fmt: skip


def positive(value: object) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, str]:
    """(returned results, the JSON file's content, stdout) of one tiny run of every section."""
    out = tmp_path_factory.mktemp("benchmark") / "results.json"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.syspath_prepend(str(SCRIPTS))
        import benchmark

        results = benchmark.main([*TINY, "--out", str(out)])
    return results, json.loads(out.read_text()), stdout.getvalue()


def test_json_holds_every_section_environment_and_command(tiny_results):
    results, written, _ = tiny_results
    assert set(written) == {
        "command", "environment", "settings", "methods", "heads", "eval", "data", "wall_seconds",
    }  # fmt: skip
    assert written["command"].startswith("python scripts/benchmark.py --backbone convnet4")
    assert written["environment"]["torch"] and written["environment"]["lightning"]
    assert written["settings"]["batch_size"] == 8
    assert written["methods"] == json.loads(json.dumps(results["methods"]))


def test_each_method_has_positive_framework_and_bare_speeds(tiny_results):
    _, written, _ = tiny_results
    assert [row["method"] for row in written["methods"]] == ["simclr", "mocov2plus", "byol"]
    for row in written["methods"]:
        for side in ("framework", "bare"):
            assert positive(row[side]["images_per_second"])
            assert len(row[side]["step_seconds"]) == 1
            assert row[side]["peak_memory_mib"] >= 0
        assert positive(row["overhead"])


def test_heads_are_timed_or_skipped_with_the_missing_input(tiny_results):
    _, written, _ = tiny_results
    rows = {",".join(row["heads"]): row for row in written["heads"]["rows"]}
    assert set(rows) == {"", "uniformity", "hcr"}
    assert rows[""]["relative_step_time"] == 1.0
    assert positive(rows["uniformity"]["relative_step_time"])
    assert rows["hcr"]["skipped"] == "needs logits"


def test_eval_and_data_speeds_are_positive(tiny_results):
    _, written, _ = tiny_results
    evaluation = written["eval"]
    assert positive(evaluation["knn"]["queries_per_second"])
    assert positive(evaluation["linear_probe"]["framework"]["samples_per_second"])
    assert positive(evaluation["linear_probe"]["bare"]["samples_per_second"])
    assert positive(evaluation["extraction"]["images_per_second"])
    assert positive(written["data"]["per_image"]["views_per_second"])
    batched = written["data"]["batched"]
    assert not batched["available"] or positive(batched["views_per_second"])


def test_stdout_has_one_table_per_section(tiny_results):
    *_, stdout = tiny_results
    for title in ("Training step", "Loss heads on simclr", "Evaluation", "Data loading"):
        assert title in stdout


def test_methods_are_measured_with_their_own_projector_width(monkeypatch):
    """The methods' widths (SimCLR 2048, BYOL 4096), not the quickstart pretrain.yaml's 512."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from benchmarking.framework import Settings, method_config

    settings = Settings("convnet4", 32, 8, torch.device("cpu"), "32-true", 1, 1, "median")
    widths = {
        m: method_config(m, [], settings).method.projector.hidden_dim for m in ("simclr", "byol")
    }
    assert widths == {"simclr": 2048, "byol": 4096}
