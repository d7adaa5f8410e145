import json
import subprocess
import sys
from itertools import product

import numpy as np
import pytest
from hydra_runs import REPO
from PIL import Image
from test_plots_layout import layout_problems

from hyperssl.eval.results import (
    collect,
    describe_runs,
    load_results,
    load_runs,
    results_table,
    sweep_figures,
)

CONSTANT_OVERRIDES = [
    "heads.mhe.layers=[backbone.layer1,backbone.layer2]",
    "trainer.limit_train_batches=1",
    "data.train_path=/data/cifar-10",
]


def write_run(run, overrides, summary):
    """A run directory as Hydra and main_pretrain.py leave it."""
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (run / "summary.json").write_text(json.dumps(summary))


def fake_sweep(root):
    """Three runs of a multirun directory."""
    runs = {
        "0_geometry=cosine": {"val/alignment": 0.5, "val/uniformity": -2.0, "knn_top1": 80.0},
        "1_geometry=geodesic": {"val/alignment": 0.4, "val/uniformity": -2.5, "knn_top1": 84.0},
        "2_heads=[mhe]": {"val/alignment": 0.6, "val/uniformity": -1.5, "knn_top1": 78.5},
    }
    for name, metrics in runs.items():
        summary = {"method": "simclr", "heads": ["mhe"] if "mhe" in name else [], **metrics}
        write_run(root / name, [name.split("_", 1)[1]], summary)
    return root


def realistic_sweep(root):
    """13 runs in the shape of scripts/sweeps: a baseline, then SimCLR and MoCo (one Hydra
    multirun each, the method chosen by the preset, not an override) x cosine/geodesic x three
    MHE powers; long overrides are the same in every run; k-NN top-1 spans 86..92.5."""
    accuracy = iter(np.linspace(86.0, 92.5, 13))
    write_run(root / "baseline" / "0", CONSTANT_OVERRIDES, summary_of("simclr", "cosine", []))
    for method in ("simclr", "mocov2plus"):
        for job, (geometry, power) in enumerate(product(("cosine", "geodesic"), ("0", "1", "a2"))):
            overrides = [f"geometry={geometry}", f"heads.mhe.power={power}", *CONSTANT_OVERRIDES]
            summary = summary_of(method, geometry, ["mhe"], float(next(accuracy)))
            write_run(root / method / str(job), overrides, summary)
    return root


def summary_of(method, geometry, heads, knn_top1=87.2):
    rng = np.random.default_rng(int(knn_top1 * 100))
    return {
        "method": method,
        "geometry": geometry,
        "heads": heads,
        "dataset": "cifar10",
        "epochs": 200,
        "resumed_from": None,
        "train/loss": float(rng.uniform(1, 2)),
        "val/alignment": float(rng.uniform(0.3, 0.6)),
        "val/uniformity": float(rng.uniform(-3.5, -2.5)),
        "knn_top1": knn_top1,
        "knn_k": 20,
    }


def test_rows_hold_every_run_with_its_overrides(tmp_path):
    rows = load_results(fake_sweep(tmp_path))
    assert [row["overrides"] for row in rows] == [
        "geometry=cosine",
        "geometry=geodesic",
        "heads=[mhe]",
    ]
    assert [row["knn_top1"] for row in rows] == [80.0, 84.0, 78.5]
    assert rows[2]["heads"] == "mhe"


def test_runs_are_in_natural_order(tmp_path):
    for job in (10, 2, 1):
        write_run(tmp_path / str(job), [f"seed={job}"], {"knn_top1": 1.0})
    assert [run.name for run in load_runs(tmp_path)] == ["1", "2", "10"]


def test_labels_are_what_differs_method_and_geometry_included_constants_left_out(tmp_path):
    labels = describe_runs(load_runs(realistic_sweep(tmp_path)))
    assert labels.columns == ("method", "geometry", "heads", "power")
    assert labels.cells[0] == ("simclr", "cosine", "none", "-")  # the baseline
    assert labels.cells[1] == ("mocov2plus", "cosine", "mhe", "0")  # folders in natural order
    assert labels.cells[-1] == ("simclr", "geodesic", "mhe", "a2")
    assert len(set(labels.cells)) == 13
    assert set(labels.constant) == {"dataset=cifar10", *CONSTANT_OVERRIDES}


def test_simclr_and_moco_runs_of_a_gcl_sweep_are_told_apart_by_method(tmp_path):
    for method in ("simclr", "mocov2plus"):
        for job, flag in enumerate(("False", "True")):
            summary = summary_of(method, "cosine", [])
            write_run(
                tmp_path / method / str(job), [f"method_kwargs.geometric_loss={flag}"], summary
            )
    labels = describe_runs(load_runs(tmp_path))
    assert labels.columns == ("method", "geometric_loss")
    assert labels.cells == (
        ("mocov2plus", "False"),
        ("mocov2plus", "True"),
        ("simclr", "False"),
        ("simclr", "True"),
    )


def test_runs_alike_in_every_setting_are_told_apart_by_their_folder(tmp_path):
    for preset in ("half_mhe", "mhe"):  # half_space is set by the preset, not an override
        write_run(tmp_path / preset / "0", ["heads.mhe.power=0"], summary_of("supervised", "", []))
    labels = describe_runs(load_runs(tmp_path))
    assert labels.columns == ("run",)
    assert labels.cells == (("half_mhe/0",), ("mhe/0",))


def test_pictures_of_a_realistic_sweep_have_readable_labels(tmp_path):
    figures = sweep_figures(load_runs(realistic_sweep(tmp_path)), "knn_top1")
    assert set(figures) == {"comparison", "align_uniform"}
    for name, figure in figures.items():
        assert layout_problems(figure) == [], name
    rows = [label.get_text() for label in figures["comparison"].axes[0].get_yticklabels()]
    assert rows[0].split() == ["simclr", "cosine", "none", "-"]
    assert rows[1].split() == ["mocov2plus", "cosine", "mhe", "0"]
    assert not any("limit_train_batches" in row or "backbone.layer1" in row for row in rows)
    low, high = figures["comparison"].axes[0].get_xlim()
    assert 85.0 < low < 86.0 and 92.5 < high < 95.0


def test_printed_table_shows_what_varies_and_the_shared_settings_once(tmp_path):
    root = realistic_sweep(tmp_path / "multirun")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "collect_results.py"), str(root)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    note, table = result.stdout.split("\n\n", 1)
    assert note.startswith("Same in every run: ")
    for setting in ("dataset=cifar10", "epochs=200", "knn_k=20", *CONSTANT_OVERRIDES):
        assert note.replace("\n", " ").count(setting) == 1, setting
    header = [cell.strip() for cell in table.splitlines()[0].strip("|").split("|")]
    assert header[:6] == ["run", "method", "geometry", "heads", "heads.mhe.power", "knn_top1"]
    assert not {"dataset", "epochs", "knn_k", "overrides", "trainer.limit_train_batches"} & set(
        header
    )
    assert "| baseline/0 | simclr | cosine | none | - | 87.2 |" in table


def test_one_run_is_tabled_whole(tmp_path):
    write_run(tmp_path / "run", ["seed=1"], summary_of("simclr", "cosine", []))
    table = results_table(load_runs(tmp_path), "knn_top1")
    assert table.startswith("| run | method | geometry | heads | dataset | seed | knn_top1 |")


def test_collect_results_script_writes_table_and_plots(tmp_path):
    root = fake_sweep(tmp_path / "multirun")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "collect_results.py"), str(root)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Same in every run: method=simclr" in result.stdout
    assert "| run | geometry | heads | knn_top1 |" in result.stdout
    lines = (root / "results.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("run,overrides,method")
    for name in ("results.png", "align_uniform.png"):
        with Image.open(root / name) as image:
            assert image.format == "PNG" and image.width >= 400
        assert (root / name).stat().st_size > 10_000


def test_collect_writes_elsewhere_when_asked(tmp_path):
    written = collect(fake_sweep(tmp_path / "runs"), tmp_path / "report", metric="val/alignment")
    path = written["comparison"]
    assert path == tmp_path / "report" / "results.png" and path.is_file()


def _colour_bar_label(figure) -> str:
    (bar,) = [axes for axes in figure.axes if axes.get_label() == "<colorbar>"]
    return bar.get_ylabel()


def test_the_plane_is_coloured_by_accuracy_unless_told_otherwise(tmp_path):
    runs = load_runs(realistic_sweep(tmp_path))
    assert _colour_bar_label(sweep_figures(runs, None)["align_uniform"]) == "knn_top1"
    figure = sweep_figures(runs, None, colour_by="train/loss")["align_uniform"]
    assert _colour_bar_label(figure) == "train/loss"


def test_colouring_by_a_value_some_runs_lack_names_the_values_all_have(tmp_path):
    runs = load_runs(fake_sweep(tmp_path))
    with pytest.raises(ValueError) as error:
        sweep_figures(runs, None, colour_by="val/rankme")
    assert str(error.value) == (
        "--colour-by val/rankme: not a number in every plotted run's summary; "
        "allowed: knn_top1, val/alignment, val/uniformity"
    )


def test_collect_results_script_refuses_an_unknown_colour_in_one_line(tmp_path):
    root = fake_sweep(tmp_path / "multirun")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "collect_results.py"), str(root)]
        + ["--colour-by", "val/rankme"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --colour-by val/rankme: not a number")
    assert len(result.stderr.strip().splitlines()) == 1


def test_table_shows_only_the_named_results_in_their_order(tmp_path):
    runs = load_runs(fake_sweep(tmp_path))
    table = results_table(runs, "knn_top1", ["val/uniformity", "knn_top1", "val/rankme"])
    header = [cell.strip() for cell in table.splitlines()[2].strip("|").split("|")]
    assert header == ["run", "geometry", "heads", "knn_top1", "val/uniformity"]
    assert "val/alignment" not in table
