"""scripts/examples/spherization_toy_task.py: both networks pass the spherization paper's
functional-correctness test on its toy task, the spherized one on the circle, and an earlier run's
outputs are refused."""

from pathlib import Path

import pytest
import torch
from pictures import assert_real_png
from script_modules import import_script

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
QUICK = ["--n-epochs", "10", "--lr", "0.5"]  # measured: 100% for seeds 1-4, loss < 0.13


@pytest.fixture(scope="module")
def toy_task():
    return import_script("examples", "spherization_toy_task")


@pytest.mark.parametrize("seed", ["1", "2"])
def test_both_nets_separate_the_two_clusters_quickly(toy_task, seed):
    results = toy_task.main([*QUICK, "--seed", seed])
    for name in ("baseline", "spheric"):
        assert results[name].accuracy == 1.0, name
        assert results[name].loss < 0.2, (name, results[name].loss)
        assert results[name].history[0]["loss"] > 0.5  # they start at chance (ln 2 = 0.69)


def test_readme_settings_reach_full_accuracy_with_seed_1(toy_task):
    # 100 epochs, lr 0.01, batch 16, scaling 1, radius 1, lrable TF (the script's defaults).
    results = toy_task.main([])
    assert [results[name].accuracy for name in ("baseline", "spheric")] == [1.0, 1.0]
    assert max(results[name].loss for name in ("baseline", "spheric")) < 0.69  # below chance


def test_spherized_hidden_points_lie_on_the_positive_quarter_circle(toy_task):
    result = toy_task.main([*QUICK, "--net", "spheric", "--radius", "2.5"])["spheric"]
    torch.testing.assert_close(result.hidden.norm(dim=1), torch.full((200,), 2.5))
    assert result.hidden.min() > 0
    assert result.net.classifier.spherization.radius.item() == 2.5  # lrable TF: fixed


def test_spherized_class_depends_on_the_angle_only(toy_task):
    result = toy_task.main([*QUICK, "--net", "spheric"])["spheric"]
    linear = result.net.classifier.linear
    assert linear.bias is None  # the decision boundary passes through the origin
    with torch.no_grad():
        for scale in (0.1, 10.0):
            scaled = linear(scale * result.hidden).argmax(dim=1)
            assert torch.equal(scaled, linear(result.hidden).argmax(dim=1))


def test_out_writes_history_and_figure_then_refuses_them(toy_task, tmp_path, capsys):
    toy_task.main([*QUICK, "--out", str(tmp_path)])
    rows = (tmp_path / "toy_task.csv").read_text().splitlines()
    assert rows[0] == "net,epoch,loss,accuracy" and len(rows) == 1 + 2 * 10
    assert_real_png(tmp_path / "toy_task.png")
    before = (tmp_path / "toy_task.csv").read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        toy_task.main([*QUICK, "--out", str(tmp_path)])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out: {tmp_path} already holds toy_task.csv, toy_task.png")
    assert len(error.strip().splitlines()) == 1
    assert (tmp_path / "toy_task.csv").read_bytes() == before


@pytest.mark.parametrize(
    ("flag", "value"), [("--lr", "0"), ("--radius", "-1"), ("--n-epochs", "0")]
)
def test_bad_flag_is_one_line_naming_it(toy_task, flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        toy_task.main([flag, value])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {flag}: got ") and len(error.splitlines()) == 1
