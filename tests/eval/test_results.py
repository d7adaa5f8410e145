import json
import subprocess
import sys

from hydra_runs import REPO
from PIL import Image

from hyperssl.eval.results import collect, load_results


def fake_sweep(root):
    """Three runs of a multirun directory as Hydra and main_pretrain.py leave them."""
    runs = {
        "0_geometry=cosine": {"val/alignment": 0.5, "val/uniformity": -2.0, "knn_top1": 80.0},
        "1_geometry=geodesic": {"val/alignment": 0.4, "val/uniformity": -2.5, "knn_top1": 84.0},
        "2_heads=[mhe]": {"val/alignment": 0.6, "val/uniformity": -1.5, "knn_top1": 78.5},
    }
    for name, metrics in runs.items():
        run = root / name
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(f"- {name.split('_', 1)[1]}\n")
        summary = {"method": "simclr", "heads": ["mhe"] if "mhe" in name else [], **metrics}
        (run / "summary.json").write_text(json.dumps(summary))
    return root


def test_rows_hold_every_run_with_its_overrides(tmp_path):
    rows = load_results(fake_sweep(tmp_path))
    assert [row["overrides"] for row in rows] == [
        "geometry=cosine",
        "geometry=geodesic",
        "heads=[mhe]",
    ]
    assert [row["knn_top1"] for row in rows] == [80.0, 84.0, 78.5]
    assert rows[2]["heads"] == "mhe"


def test_collect_results_script_writes_table_and_plots(tmp_path):
    root = fake_sweep(tmp_path / "multirun")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "collect_results.py"), str(root)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "| run | overrides | method | heads |" in result.stdout
    lines = (root / "results.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("run,overrides,method")
    for name in ("results.png", "align_uniform.png"):
        with Image.open(root / name) as image:
            assert image.format == "PNG" and image.width >= 400
        assert (root / name).stat().st_size > 10_000


def test_collect_writes_elsewhere_when_asked(tmp_path):
    written = collect(fake_sweep(tmp_path / "runs"), tmp_path / "report", metric="val/alignment")
    assert written["bars"] == tmp_path / "report" / "results.png" and written["bars"].is_file()
