"""scripts/gpu_check.py in its CPU mode writes every row kind, each measured number positive, and
prints them as one table whose rows all have its columns. Timings are never asserted.
"""

import contextlib
import io
import json
import math
import subprocess
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
COLUMNS = [
    "kind", "case", "settings", "hyperssl", "bare", "fw/bare time",
    "hyperssl peak MiB", "bare peak MiB", "data ÷ step", "note",
]  # fmt: skip
METHODS = ["simclr", "mocov2plus", "byol"]
# What a data-path row gains once the steps are known (gpu_check.with_step_ratio).
RATIO_KEYS = {"data_over_step", "step_views_per_second", "step"}


def positive(value: object) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def cpu_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """(the JSON file's content, stdout) of one run of ``gpu_check.py --device cpu``."""
    out = tmp_path_factory.mktemp("gpu_check") / "r.json"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.syspath_prepend(str(SCRIPTS))
        import gpu_check

        gpu_check.main(["--device", "cpu", "--out", str(out)])
    return json.loads(out.read_text()), stdout.getvalue()


def rows_of(results: dict, kind: str) -> list[dict]:
    return [row for row in results["rows"] if row["kind"] == kind]


def test_json_holds_every_row_kind_and_the_environment(cpu_check):
    results, _ = cpu_check
    assert results["complete"] is True
    assert [row["kind"] for row in results["rows"]][:1] == ["cuda_tests"]
    assert {row["kind"] for row in results["rows"]} == {"cuda_tests", "step", "data_path"}
    assert (
        results["command"]
        == f"python scripts/gpu_check.py --device cpu --out {results['settings']['out']}"
    )
    assert results["date"] and results["environment"]["device_name"]
    assert all(results["environment"][name] for name in ("torch", "torchvision", "lightning"))


def test_cuda_tests_are_skipped_without_cuda(cpu_check):
    results, _ = cpu_check
    assert rows_of(results, "cuda_tests") == [{"kind": "cuda_tests", "status": "skipped: no CUDA"}]


def test_every_method_is_measured_on_every_case_on_both_sides(cpu_check):
    results, _ = cpu_check
    steps = rows_of(results, "step")
    cases = {(row["image_size"], row["batch_size"]) for row in steps}
    assert cases == {(32, 8), (64, 8)}
    for case in cases:
        measured = [row for row in steps if (row["image_size"], row["batch_size"]) == case]
        assert [row["method"] for row in measured] == METHODS
    for row in steps:
        assert row["precision"] == "32-true" and not row["compile"] and row["views_per_image"] == 2
        for side in ("framework", "bare"):
            assert positive(row[side]["images_per_second"])
            assert row[side]["peak_memory_mib"] >= 0
        assert positive(row["overhead"])


def test_data_path_rows_have_a_speed_and_its_ratio_to_the_step(cpu_check):
    results, _ = cpu_check
    data = rows_of(results, "data_path")
    measured = [row for row in data if "views_per_second" in row]
    in_memory = [row for row in measured if row["source"] == "in_memory"]
    folder = [row for row in measured if row["source"].startswith("imagefolder")]
    assert len(in_memory) == 1 and {"auto", "workers"} <= {row["augment_on"] for row in folder}
    for row in measured:
        assert positive(row["views_per_second"]) and positive(row["data_over_step"])
        assert positive(row["step_views_per_second"]) and row["peak_memory_mib"] >= 0
    step = max(
        (row for row in rows_of(results, "step") if row["image_size"] == 32),
        key=lambda row: row["framework"]["images_per_second"],
    )
    consumed = 2 * step["framework"]["images_per_second"]
    assert in_memory[0]["data_over_step"] == pytest.approx(
        in_memory[0]["views_per_second"] / consumed
    )
    assert all("refused" in row for row in data if row not in measured)
    # Views made in the training process add to its step; the workers' overlap it.
    for row in measured:
        added = f"adds about {100 / row['data_over_step']:.0f} % to its step"
        assert (added in row["step"]) is row.get("batched", row["source"] == "in_memory"), row


def test_printed_table_has_one_row_per_result_with_every_column(cpu_check):
    results, stdout = cpu_check
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    assert cells[0] == COLUMNS and set(cells[1]) == {"---"}
    assert len(cells) - 2 == len(results["rows"])
    assert all(len(row) == len(COLUMNS) for row in cells)
    assert [row[0] for row in cells[2:]] == [
        {"cuda_tests": "CUDA tests", "step": "step", "data_path": "data path"}[row["kind"]]
        for row in results["rows"]
    ]


def test_a_check_stopped_part_way_leaves_its_rows_and_table_prints_them(
    cpu_check, tmp_path, monkeypatch, capsys
):
    """Each row reaches the JSON and stderr as it ends. A check stopped in its second step (by
    KeyboardInterrupt here, by a caller's time limit on the device) leaves the rows before it,
    and ``--table`` prints them, the data path's ratio taken to the one step measured."""
    results, _ = cpu_check
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import gpu_check

    steps = rows_of(results, "step")
    measurement = {name: steps[0][name] for name in ("framework", "bare", "overhead")}
    calls = []

    def first_step_only(*args):
        calls.append(args)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return measurement

    monkeypatch.setattr(gpu_check, "compare_step", first_step_only)
    out = tmp_path / "stopped.json"
    header = {key: results[key] for key in ("command", "date", "environment", "settings")}
    partial = gpu_check.Results(header, out, time.monotonic())
    data = rows_of(results, "data_path")
    partial.record(rows_of(results, "cuda_tests")[0])
    for row in data:
        partial.record({key: row[key] for key in row if key not in RATIO_KEYS})
    args = gpu_check.parse_args(["--device", "cpu", "--out", str(out)])
    with pytest.raises(KeyboardInterrupt):
        cpu = gpu_check.torch.device("cpu")
        gpu_check.step_rows(gpu_check.cpu_cases(), cpu, args, math.inf, partial.record)
    progress = capsys.readouterr().err.splitlines()
    assert len(progress) == 2 + len(data)
    assert progress[0].endswith("cuda_tests, pytest -m cuda: skipped: no CUDA")
    assert progress[-1].endswith(
        "step, simclr, convnet4 32 px batch 8, fp32, contiguous, eager: "
        f"{measurement['framework']['images_per_second']:,.0f} img/s, "
        f"{measurement['overhead']:.3f}"
    )

    stopped = json.loads(out.read_text())
    assert stopped["complete"] is False
    kinds = [row["kind"] for row in stopped["rows"]]
    assert kinds == ["cuda_tests", *["data_path"] * len(data), "step"]
    assert stopped["rows"][-1] == steps[0]

    table = gpu_check.main(["--table", str(out)])
    printed = capsys.readouterr().out
    kinds = [row["kind"] for row in table["rows"]]
    assert kinds == ["cuda_tests", "step", *["data_path"] * len(data)]
    in_memory = next(row for row in table["rows"] if row.get("source") == "in_memory")
    one_step = measurement["framework"]["images_per_second"] * steps[0]["views_per_image"]
    assert in_memory["data_over_step"] == pytest.approx(in_memory["views_per_second"] / one_step)
    assert printed.startswith(gpu_check.headline(table))
    assert printed.splitlines()[0].endswith("s, stopped part-way: the rows it measured.")
    assert len([line for line in printed.splitlines() if line.startswith("| ")]) == 2 + len(
        table["rows"]
    )


def test_cuda_test_counts_are_pytest_s(tmp_path, monkeypatch):
    (tmp_path / "test_marked.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.cuda\ndef test_passes():\n    pass\n\n"
        "@pytest.mark.cuda\ndef test_fails():\n    assert False\n\n"
        "@pytest.mark.cuda\n@pytest.mark.skip(reason='off')\ndef test_skipped():\n    pass\n\n"
        "def test_unmarked():\n    assert False\n"
    )
    # A test file needing a package this machine lacks: an error, and the marked tests still run.
    (tmp_path / "test_needs_a_package.py").write_text("import a_package_nobody_installed\n")
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from benchmarking.cuda_tests import run_marked_tests

    counts = run_marked_tests("cuda", tmp_path, timeout=120)
    assert (counts["passed"], counts["failed"], counts["skipped"], counts["errors"]) == (1, 1, 1, 1)
    assert counts["exit_status"] == 1
    summary = counts["summary"]
    assert "1 failed, 1 passed, 1 skipped, 1 deselected" in summary and "1 error in" in summary


def test_a_cuda_test_run_that_failed_to_end_is_a_row_of_the_table(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from benchmarking import report

    error = "TimeoutExpired: Command 'pytest' timed out after 240 seconds"
    table = report.check_table([{"kind": "cuda_tests", "error": error}])
    assert table.splitlines()[-1].startswith("| CUDA tests | pytest -m cuda |")
    assert table.splitlines()[-1].endswith(f"| {error} |")


def test_a_cuda_test_run_past_its_timeout_is_killed_with_what_it_started(tmp_path, monkeypatch):
    pid_file = tmp_path / "sleeper.pid"
    (tmp_path / "test_hangs.py").write_text(
        "import subprocess, time\nimport pytest\n\n"
        "@pytest.mark.cuda\ndef test_hangs():\n"
        "    sleeper = subprocess.Popen(['sleep', '300'])\n"
        f"    open({str(pid_file)!r}, 'w').write(str(sleeper.pid))\n"
        "    time.sleep(300)\n"
    )
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from benchmarking.cuda_tests import run_marked_tests

    with pytest.raises(subprocess.TimeoutExpired):
        run_marked_tests("cuda", tmp_path, timeout=15)
    status = Path(f"/proc/{pid_file.read_text()}/status")
    deadline = time.monotonic() + 10
    while alive(status) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(status)


def alive(status: Path) -> bool:
    """Whether the process of /proc/<pid>/status runs (a zombie, killed but not reaped, does
    not: a container's init may never reap it)."""
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def test_a_compiled_row_counts_the_frames_that_failed_to_compile_and_ran_eagerly(monkeypatch):
    """``compile=true`` suppresses compile errors; the row must not pass eager code off as
    compiled."""
    import torch
    import torch._dynamo

    monkeypatch.syspath_prepend(str(SCRIPTS))
    import gpu_check
    from benchmarking import report

    def failing_backend(graph, example_inputs):
        raise RuntimeError("no compiler here")

    torch._dynamo.reset()
    gpu_check.counters.clear()
    with torch._dynamo.config.patch(suppress_errors=True):
        torch.compile(lambda x: x.sin() + 1, backend=failing_backend)(torch.ones(3))
        torch.compile(lambda x: x.cos() + 1, backend="eager")(torch.ones(3))
    torch._dynamo.reset()
    dynamo = gpu_check.dynamo_outcome()
    assert dynamo == {"frames": 2, "frames_compiled": 1, "graph_breaks": 0}
    assert report._dynamo_note(dynamo) == "1 of 2 frames failed to compile: ran eagerly"
    assert report._dynamo_note(dynamo | {"frames_compiled": 2}) == ""
