"""One prepared GPU check: the CUDA tests, the training step against bare PyTorch, the data path.

    python scripts/gpu_check.py --out gpu.json               # on CUDA where there is one: < 8 min
    python scripts/gpu_check.py --device cpu --out cpu.json  # the same code paths, tiny sizes
    python scripts/gpu_check.py --table gpu.json             # the table of an earlier run

It prints one markdown table, ready for BENCHMARKS.md, under a line giving the date, the card and
the torch, torchvision and Lightning versions, and writes its rows as JSON to ``--out``. It needs
nothing from outside: the data are made on the spot, in the formats a run reads.

The JSON is written again after every row, marked ``"complete": false`` until the end, and each
row is one line on stderr as it ends: a check killed by its caller's time limit (the device
tool's, say) leaves every row it measured, and ``--table`` prints them as the table.

Rows:
- CUDA tests: ``pytest -m cuda`` in a child process (``benchmarking/cuda_tests.py``), its passed,
  failed, skipped and error counts. Without CUDA they are not run ("skipped: no CUDA").
- step: SimCLR, MoCo v2+ and BYOL, each a real ``pl.Trainer.fit`` on the composed config
  ("hyperssl") next to the bare PyTorch loop with the same modules ("bare"), both from
  ``benchmarking/steps.py``: images/s, the time ratio (the framework's overhead; target <= 1.05)
  and each side's peak memory (``torch.cuda.max_memory_allocated``). On CUDA 3 warm-up steps and
  10 measured ones, timed by their synchronised total. Precision is ``trainer.precision``
  (32-true: PyTorch's float32 defaults; bf16-mixed), the layout ``trainer.channels_last``, and
  ``compile`` the config's torch.compile switch; TorchDynamo's caches are reset before each
  method, so each compiles as a fresh run would (Inductor's cache on disk kept: a graph already
  compiled loads from it). Compile time is not in the figures: it falls in the warm-up steps.
- data path: (a) in memory: the batched augmentation of uint8 batches already on the device
  (``benchmarking/augmentation.py``); (b) a folder: JPEGs of photo shapes (500x375, 375x500,
  500x333, 400x400) written on the spot in ImageFolder layout, read through
  ``PretrainDataModule`` with ``data=imagefolder`` for every ``data.augment_on`` value the
  config accepts (a refused one is listed with its error), 2 views of 224 px crops
  (``benchmarking/folder_data.py``). "data ÷ step": the data path's views/s over
  what the fastest step measured at the same image size consumes (its images/s times its views
  per image). For ``augment_on=workers`` the loader's processes overlap the step, and > 1 means
  the data path is not the bottleneck. For ``augment_on=batch`` (and in memory) the views are
  made in the training process, on the step's stream, so each step also waits for them: a ratio
  r adds about 1/r of the step's time (r = 10: 10 %), and the note says so.

The grid on CUDA, run in this order; once ``--time-limit`` (400 s) has passed, the cases left are
listed as skipped rather than run, so the check ends within 8 minutes whatever the machine:
1. ResNet-18 (small-image stem), 32 px, batch 256: fp32 and bf16, channels-last on and off, eager.
2. ResNet-18 at 32 px batch 512 and ResNet-50 at 224 px batch 128: bf16, channels-last, eager.
3. compile on for each of the three sizes in bf16 with channels-last.
4. compile on for the rest of the ResNet-18 batch-256 grid, if time is left (it may well not be).

Why 1-3 fit in 8 minutes on an H200 (an estimate, from CPU timings and published throughput; no
GPU has run it yet): an eager method takes 4-8 s (two trainers, three models, 27 steps of 20-100
ms), so 18 eager rows take about 2 minutes. The first compile of a graph takes some 30 s for
ResNet-18 and 60 s for ResNet-50 (27 s for ResNet-18 on the 2-core CPU here); a method compiled
again loads from Inductor's cache in a few seconds, so 3 compiled cases take about 3-4 minutes.
``pytest -m cuda`` (the whole suite collected, then 82 tests: 66 one-step autocast cases, 14
training runs of a few steps and 2 comparisons with the CPU; 3 s or less each on CPU) should take
one to two minutes, and the data path half a minute. Whatever they take comes out of the 400 s:
the last compiled cases are the first to be skipped.

On CPU (``--device cpu``), ConvNet-4 of width 8 at 32 and 64 px, batch 8, fp32, eager, 1 warm-up
and 2 measured steps; a few JPEGs cropped to 64 px: about half a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch._dynamo
from benchmarking import augmentation, report
from benchmarking.bare import BARE_METHODS
from benchmarking.cuda_tests import run_marked_tests
from benchmarking.folder_data import describe_sizes, folder_speed, write_jpeg_folder
from benchmarking.framework import Settings, method_config, quiet_lightning
from benchmarking.measure import PeakMemory, environment
from benchmarking.steps import compare_step
from torch._dynamo.utils import counters

from hyperssl.data.schema import AUGMENT_ON

REPO = Path(__file__).resolve().parents[1]
CUDA_TESTS_TIMEOUT_S = 240


@dataclass(frozen=True)
class StepCase:
    """One column of the step grid; every method is measured on it."""

    backbone: str
    image_size: int
    batch_size: int
    precision: str
    channels_last: bool
    compile: bool
    overrides: tuple[str, ...] = ()  # further Hydra overrides (the CPU profile's tiny model)

    def settings(self, device: torch.device, warmup: int, steps: int) -> Settings:
        statistic = "mean" if device.type == "cuda" else "median"
        switches = [
            f"trainer.channels_last={str(self.channels_last).lower()}",
            f"compile={str(self.compile).lower()}",
        ]
        return Settings(
            self.backbone, self.image_size, self.batch_size, device, self.precision,
            warmup, steps, statistic, overrides=[*switches, *self.overrides],
        )  # fmt: skip


@dataclass(frozen=True)
class DataSizes:
    """The data path's sizes: in-memory batches, and a folder of ``jpegs`` files of which
    ``distinct`` differ (the rest are hard links: decoding costs the same, writing less)."""

    memory_image_size: int
    memory_batch_size: int
    memory_batches: int
    jpegs: int
    distinct: int
    crop: int
    folder_batch_size: int
    workers: int


@dataclass(frozen=True)
class Profile:
    cases: list[StepCase]
    data: DataSizes
    warmup: int
    steps: int


def cuda_cases() -> list[StepCase]:
    """The CUDA grid, in the order it runs (the module docstring says why)."""
    r18, r50, bf16 = "resnet18", "resnet50", "bf16-mixed"
    full = [
        StepCase(r18, 32, 256, precision, channels_last, compile=False)
        for precision in (bf16, "32-true")
        for channels_last in (True, False)
    ]
    sizes = [(r18, 32, 256), (r18, 32, 512), (r50, 224, 128)]
    reduced = [StepCase(*size, bf16, True, compile=False) for size in sizes[1:]]
    compiled = [StepCase(*size, bf16, True, compile=True) for size in sizes]
    rest = [StepCase(**{**asdict(case), "compile": True}) for case in full[1:]]
    return full + reduced + compiled + rest


def cpu_cases() -> list[StepCase]:
    tiny = ("backbone.kwargs.width=8", "method.projector.hidden_dim=32")
    return [StepCase("convnet4", size, 8, "32-true", False, False, tiny) for size in (32, 64)]


PROFILES = {
    "cuda": Profile(
        cuda_cases(),
        DataSizes(
            memory_image_size=32, memory_batch_size=256, memory_batches=20,
            jpegs=2048, distinct=64, crop=224, folder_batch_size=128, workers=8,
        ),
        warmup=3,
        steps=10,
    ),
    "cpu": Profile(
        cpu_cases(),
        DataSizes(
            memory_image_size=32, memory_batch_size=8, memory_batches=2,
            jpegs=16, distinct=8, crop=64, folder_batch_size=4, workers=1,
        ),
        warmup=1,
        steps=2,
    ),
}  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--device", choices=list(PROFILES), default="cuda" if torch.cuda.is_available() else "cpu")
    add("--out", type=Path, default=Path("gpu_check.json"), help="the rows as JSON")
    add("--warmup", type=int, help="steps before measuring (default 3 on CUDA, 1 on CPU)")
    add("--steps", type=int, help="measured steps (default 10 on CUDA, 2 on CPU)")
    add("--workers", type=int, help="loader workers of the folder (default 8 on CUDA, 1 on CPU)")
    add("--time-limit", type=float, default=400.0, help="seconds after which no case starts")
    add("--table", type=Path, help="print the table of this JSON file of an earlier run, and exit")
    args = parser.parse_args(argv)
    if args.table is not None:
        return args
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this machine has no CUDA device (--device cpu runs on it)")
    profile = PROFILES[args.device]
    defaults = {"warmup": profile.warmup, "steps": profile.steps, "workers": profile.data.workers}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def failure(error: BaseException) -> str:
    """One line naming an error, for a row that could not be measured."""
    lines = str(error).strip().splitlines()
    return f"failed: {type(error).__name__}" + (f": {lines[0]}" if lines else "")


def measured(
    device: torch.device, run: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """``run(*args)``, or ``{"error": ...}``: one failing measurement (a compile error, an
    out-of-memory batch) is a row of the table, not the end of the check."""
    try:
        return run(*args)
    except Exception as error:  # noqa: BLE001 (any failure is reported in its row)
        return {"error": failure(error)}
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()


def cuda_tests_row(device: torch.device) -> dict[str, Any]:
    if device.type != "cuda":
        return {"kind": "cuda_tests", "status": "skipped: no CUDA"}
    counts = measured(device, run_marked_tests, "cuda", REPO, CUDA_TESTS_TIMEOUT_S)
    return {"kind": "cuda_tests", **counts}


def step_rows(
    cases: list[StepCase],
    device: torch.device,
    args: argparse.Namespace,
    deadline: float,
    record: Callable[[dict[str, Any]], None],
) -> None:
    """Every method on every case, in order, each row to ``record`` as it ends; those left when
    ``deadline`` has passed skipped."""
    for case in cases:
        settings = case.settings(device, args.warmup, args.steps)
        for method in BARE_METHODS:
            row = {"kind": "step", "method": method, **asdict(case)}
            if time.monotonic() > deadline:
                record(row | {"skipped": f"skipped: past --time-limit {args.time_limit:g} s"})
                continue
            torch._dynamo.reset()
            counters.clear()
            cfg = method_config(method, [], settings)
            row["views_per_image"] = sum(pipeline.num_crops for pipeline in cfg.augmentations)
            row |= measured(device, compare_step, cfg, settings, 1)
            record(row | ({"dynamo": dynamo_outcome()} if case.compile else {}))


def dynamo_outcome() -> dict[str, int]:
    """What TorchDynamo did since its counters were cleared: frames it tried to compile, those it
    compiled, and graph breaks. ``compile=true`` suppresses compile errors (the frame then runs
    eagerly, with a logged warning), so a compiled row whose frames did not all compile timed
    eager code, at least in part."""
    return {
        "frames": counters["frames"]["total"],
        "frames_compiled": counters["frames"]["ok"],
        "graph_breaks": sum(counters["graph_break"].values()),
    }


def in_memory_row(sizes: DataSizes, device: torch.device) -> dict[str, Any]:
    size, batch = sizes.memory_image_size, sizes.memory_batch_size
    # The symmetric recipe at this size, as the steps' configs have it.
    settings = Settings("resnet18", size, batch, device, "32-true", 0, 1, "median")
    cfg = method_config("simclr", [], settings)

    def run() -> dict[str, Any]:
        with PeakMemory(device) as memory:
            speed = augmentation.batched_speed(cfg, batch, sizes.memory_batches, device)
        return speed | {"peak_memory_mib": memory.mib}

    result = measured(device, run)
    threads = f", {counted(result['threads'], 'thread')}" if "threads" in result else ""
    return {
        "kind": "data_path",
        "source": "in_memory",
        "image_size": size,
        "batch_size": batch,
        "augment_on": "batch",
        "where": f"uint8 on {device}{threads}",
        **result,
    }


def folder_rows(
    sizes: DataSizes, device: torch.device, workers: int, record: Callable[[dict[str, Any]], None]
) -> None:
    with tempfile.TemporaryDirectory(prefix="hyperssl-gpu-check-") as folder:
        root = write_jpeg_folder(Path(folder), sizes.jpegs, sizes.distinct)
        for augment_on in AUGMENT_ON:
            batch = sizes.folder_batch_size
            result = measured(
                device, folder_speed, root, sizes.crop, batch, augment_on, workers, device
            )
            record(
                {
                    "kind": "data_path",
                    "source": f"imagefolder ({sizes.jpegs} JPEGs of {describe_sizes()})",
                    "image_size": sizes.crop,
                    "batch_size": sizes.folder_batch_size,
                    "augment_on": augment_on,
                    "where": f"{counted(workers, 'worker')}, on {device}",
                    **result,
                }
            )


def with_step_ratio(row: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A measured data-path row with its views/s over the consumption of the fastest step
    measured at its image size (images/s times views per image)."""
    if "views_per_second" not in row:
        return row
    same_size = [s for s in steps if "framework" in s and s["image_size"] == row["image_size"]]
    if not same_size:
        return row | {"data_over_step": None, "step": "no step measured at this size"}
    fastest = max(same_size, key=lambda step: step["framework"]["images_per_second"])
    consumed = fastest["framework"]["images_per_second"] * fastest["views_per_image"]
    label = ", ".join(
        [
            fastest["method"],
            fastest["backbone"],
            f"batch {fastest['batch_size']}",
            report.step_settings(fastest),
        ]
    )
    ratio = row["views_per_second"] / consumed
    note = f"vs {label}: {consumed:,.0f} views/s"
    if row.get("batched", row["augment_on"] == "batch"):  # a folder's ``auto`` says which
        note += f"; made in the training process, adds about {100 / ratio:.0f} % to its step"
    return row | {"data_over_step": ratio, "step_views_per_second": consumed, "step": note}


def headline(results: dict[str, Any]) -> str:
    env = results["environment"]
    return (
        f"GPU check of {results['date']} on {env['device_name']}: torch {env['torch']}, "
        f"torchvision {env['torchvision']}, Lightning {env['lightning']}; "
        f"`{results['command']}`, {results['wall_seconds']:.0f} s"
        + ("." if results["complete"] else ", stopped part-way: the rows it measured.")
    )


def exit_status(rows: list[dict[str, Any]]) -> int:
    """1 when a measurement failed or a CUDA test failed, else 0."""
    broken = any("error" in row or row.get("failed") or row.get("errors") for row in rows)
    return int(broken)


class Results:
    """The check's JSON at ``path``, written again after every row (``"complete": false`` until
    :meth:`finish`), so that a check killed part-way leaves what it measured; each row is also
    one line on stderr as it ends."""

    def __init__(self, content: dict[str, Any], path: Path, start: float) -> None:
        self.content, self.path, self.start = content, path, start
        self.rows: list[dict[str, Any]] = []  # in the order they ended

    def record(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self._write(complete=False)
        print(f"gpu_check, {self.elapsed():.0f} s: {row_outcome(row)}", file=sys.stderr, flush=True)

    def finish(self) -> dict[str, Any]:
        self._write(complete=True)
        return self.content

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _write(self, complete: bool) -> None:
        rows = finished_rows(self.rows) if complete else self.rows
        self.content |= {"rows": rows, "complete": complete, "wall_seconds": self.elapsed()}
        self.path.write_text(json.dumps(self.content, indent=2) + "\n")


def row_outcome(row: dict[str, Any]) -> str:
    """A row as one progress line: what it measured and how it ended."""
    what = [row["kind"], row.get("method") or row.get("source") or "pytest -m cuda"]
    if row["kind"] == "step":
        what.append(f"{row['backbone']} {row['image_size']} px batch {row['batch_size']}")
        what.append(report.step_settings(row))
    elif row["kind"] == "data_path":
        what.append(f"augment_on={row['augment_on']}")
    if "framework" in row:
        ended = f"{row['framework']['images_per_second']:,.0f} img/s, {row['overhead']:.3f}"
    elif "views_per_second" in row:
        ended = f"{row['views_per_second']:,.0f} views/s"
    elif "passed" in row:
        ended = f"{row['passed']} passed, {row['failed']} failed, {row['errors']} errors"
    else:
        ended = row.get("error") or row.get("skipped") or row.get("status") or row.get("refused")
    return f"{', '.join(what)}: {ended}"


def finished_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's rows from the rows measured, in any order: the CUDA tests, the steps by image
    and batch size (stable: run order kept), then the data path with its ratio to the steps."""
    steps = sorted(
        (row for row in rows if row["kind"] == "step"),
        key=lambda row: (row["image_size"], row["batch_size"]),
    )
    cuda_tests = [row for row in rows if row["kind"] == "cuda_tests"]
    data = [with_step_ratio(row, steps) for row in rows if row["kind"] == "data_path"]
    return [*cuda_tests, *steps, *data]


def print_table(results: dict[str, Any]) -> None:
    print(headline(results))
    print()
    print(report.check_table(results["rows"]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the check; print the table, write the JSON and return its content. With ``--table``,
    print an earlier run's table (a run killed part-way: the rows it measured) and return it."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.table is not None:
        content = json.loads(args.table.read_text())
        if not content["complete"]:
            content["rows"] = finished_rows(content["rows"])
        print_table(content)
        return content
    device = torch.device(args.device)
    profile = PROFILES[device.type]
    start = time.monotonic()
    results = Results(
        {
            "command": shlex.join(["python", "scripts/gpu_check.py", *argv]),
            "date": datetime.date.today().isoformat(),
            "environment": environment(device),
            "settings": {
                **vars(args),
                "out": str(args.out),
                "profile": asdict(profile),
                "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            },
        },
        args.out,
        start,
    )
    with quiet_lightning():
        results.record(cuda_tests_row(device))
        results.record(in_memory_row(profile.data, device))
        folder_rows(profile.data, device, args.workers, results.record)
        step_rows(profile.cases, device, args, start + args.time_limit, results.record)
    # Written before the table is made: a row the table cannot show must not lose the run.
    content = results.finish()
    print_table(content)
    return content


if __name__ == "__main__":
    sys.exit(exit_status(main()["rows"]))
