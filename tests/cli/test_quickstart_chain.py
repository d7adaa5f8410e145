"""The README quickstart: python main_pretrain.py && python main_linear.py && python main_knn.py,
run as a user does (subprocesses, in a fresh folder), with tiny settings to keep it fast."""

import csv
import json

from hydra_runs import TINY, run_entry


def only_run(folder):
    (run,) = [path for path in folder.iterdir() if path.is_dir()]
    return run


def test_pretrain_then_linear_then_knn_on_digits(tmp_path):
    cache = f"feature_cache.dir={tmp_path / 'cache'}"
    pretrain = run_entry("main_pretrain.py", TINY, cwd=tmp_path)
    assert pretrain.returncode == 0, pretrain.stderr[-3000:]
    pretrained = only_run(tmp_path / "outputs" / "simclr-digits")

    tiny_linear = [
        "data.num_workers=0",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
    ]
    linear = run_entry("main_linear.py", [*tiny_linear, cache], cwd=tmp_path)
    assert linear.returncode == 0, linear.stderr[-3000:]
    assert "linear top-1" in linear.stdout
    summary = json.loads(
        (only_run(tmp_path / "outputs" / "linear-digits") / "summary.json").read_text()
    )
    assert summary["pretrained"] == str(pretrained / "checkpoints" / "last.ckpt")  # latest
    assert summary["mode"] == "precomputed" and 0.0 <= summary["linear_top1"] <= 100.0

    knn = run_entry("main_knn.py", ["data.num_workers=0", cache], cwd=tmp_path)
    assert knn.returncode == 0, knn.stderr[-3000:]
    assert "features from cache" in knn.stdout + knn.stderr  # extracted once, by main_linear
    knn_run = only_run(tmp_path / "outputs" / "knn-digits")
    with open(knn_run / "knn.csv") as file:
        rows = list(csv.DictReader(file))
    # configs/knn.yaml: 2 feature types x 3 k x (2 temperatures for cosine + 1 for euclidean)
    assert len(rows) == 18
    assert all(0.0 <= float(row["top1"]) <= float(row["top5"]) <= 100.0 for row in rows)
