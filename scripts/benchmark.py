"""Benchmark hyperssl: training-step speed against bare PyTorch, head costs, evaluation, data.

    python scripts/benchmark.py                       # CPU: ResNet-18, 32x32, batch 64 (~2-3 min)
    python scripts/benchmark.py --device cuda         # batch 256, bf16-mixed, 20 measured steps
    python scripts/benchmark.py --sections methods --methods simclr byol --steps 5
    python scripts/benchmark.py --sections heads --heads uniformity mhe uniformity,mhe
    python scripts/benchmark.py --backbone convnet4 --override backbone.kwargs.width=16
    python scripts/benchmark.py --threads 1 --out results.json
    python scripts/benchmark.py --sections solo --rounds 2      # against solo-learn, with load

Sections (``--sections``, all by default):

- methods: for SimCLR, MoCo v2+ and BYOL, images/s and peak memory of a training step run by the
  real ``pl.Trainer.fit`` on pre-made view tensors (see ``benchmarking/framework.py``), next to
  a plain PyTorch loop doing the same forward, backward and optimizer work
  (``benchmarking/bare.py``); "fw/bare time" is the framework's overhead (target: <= 1.05).
- heads: the framework step of ``--heads-method`` with each head set, and its step time relative
  to the step without heads. Head sets whose inputs the method does not produce are skipped.
- eval: weighted k-NN queries/s, linear-probe samples/s on cached features (framework and plain
  loop), feature extraction images/s.
- data: views/s of the real per-image augmentation on one thread (one DataLoader worker), and of
  the batched path when ``hyperssl.data.batched_augment`` exists; then a folder of JPEGs of photo
  shapes (500x375, 375x500, 500x333, 400x400) written on the spot, read by the data module with
  ``data.augment_on=workers`` (PIL decode and per-image augmentation in as many workers as
  cores) and ``batch`` (workers read the bytes, decode and batched augmentation on the device),
  views/s over an epoch (``benchmarking/folder_data.py``).
- solo (not in the default set): hyperssl against solo-learn, when solo-learn can be imported:
  each method's step, NT-Xent and the augmentation, quiet and next to a busy neighbour process
  of ``--neighbour`` threads doing matrix products on the same cores
  (``benchmarking/side_by_side.py``; how to install solo-learn next to hyperssl is in
  ``benchmarking/solo_learn.py``).

Images/s counts images (each gives two views). Steps are timed after ``--warmup`` steps: on CPU
the median step (robust to other processes), on CUDA the total wall of the measured steps
(``--stat`` to choose); on a shared machine ``--rounds 3`` repeats every run, interleaved, and
keeps its fastest round. Peak memory: see ``benchmarking/measure.py``. A table per section goes to
stdout and everything, with the environment and the command line, to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from benchmarking import augmentation, evaluation, report, side_by_side
from benchmarking.bare import BARE_METHODS
from benchmarking.folder_data import folder_speed, write_jpeg_folder
from benchmarking.framework import Settings, method_config, quiet_lightning, run_framework
from benchmarking.measure import cpu_count, environment, memory_description
from benchmarking.steps import compare_step, fastest_of_rounds

from hyperssl.heads import HEADS
from hyperssl.methods import METHODS
from hyperssl.methods.base import backbone_from_config

SECTIONS = ("methods", "heads", "eval", "data", "solo")
DEFAULT_SECTIONS = ["methods", "heads", "eval", "data"]
DEFAULT_HEAD_SETS = ["uniformity", "align_uniform", "mhe", "hcr"]
FOLDER_CROP, FOLDER_BATCH = 224, 32  # the folder rows: photo-sized JPEGs to 224-pixel views


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--device", default="cpu", help="cpu or cuda")
    add("--backbone", default="resnet18", help="a backbone config: resnet18, convnet4, ...")
    add("--image-size", type=int, default=32)
    add("--batch-size", type=int, help="default 256 on CUDA, 64 on CPU")
    add("--steps", type=int, help="measured steps per run (default 20 on CUDA, 3 on CPU)")
    add("--warmup", type=int, help="steps before measuring (default 5 on CUDA, 1 on CPU)")
    add("--precision", help="default: the trainer group's (bf16-mixed on CUDA, 32-true on CPU)")
    add("--stat", choices=["auto", "median", "mean"], default="auto")
    add("--rounds", type=int, default=1, help="interleaved repeats of each run; fastest kept")
    add("--methods", nargs="+", default=list(BARE_METHODS), choices=list(BARE_METHODS))
    add("--heads", nargs="*", default=DEFAULT_HEAD_SETS, help="head sets, e.g. uniformity,mhe")
    add("--heads-method", default="simclr", choices=METHODS.names())
    add("--sections", nargs="+", default=DEFAULT_SECTIONS, choices=SECTIONS)
    add("--override", nargs="*", default=[], help="extra Hydra overrides for every run")
    add("--threads", type=int, help="torch intra-op threads (default: torch's)")
    add("--knn-train", type=int, help="k-NN memory bank (default 50000 CUDA, 10000 CPU)")
    add("--knn-test", type=int, help="k-NN queries (default 10000 CUDA, 2000 CPU)")
    add("--probe-samples", type=int, help="cached features (default 50000 CUDA, 10000 CPU)")
    add("--probe-epochs", type=int, default=3)
    add("--extract-images", type=int, help="default 10240 on CUDA, 512 on CPU")
    add("--aug-images", type=int, default=256, help="images through the per-image pipeline")
    add("--folder-images", type=int, default=192, help="JPEGs of the folder rows")
    add("--neighbour", type=int, default=cpu_count(), help="solo: its threads (0: quiet only)")
    add("--loss-batch-sizes", type=int, nargs="+", default=[256, 1024], help="solo: NT-Xent B")
    add("--seed", type=int, default=0)
    add("--out", type=Path, default=Path("benchmark.json"))
    return parser.parse_args(argv)


def device_defaults(args: argparse.Namespace) -> None:
    """Fill the settings whose default depends on the device."""
    gpu = args.device.startswith("cuda")
    defaults = {
        "batch_size": (256, 64),
        "steps": (20, 3),
        "warmup": (5, 1),
        "precision": ("bf16-mixed", "32-true"),
        "knn_train": (50_000, 10_000),
        "knn_test": (10_000, 2_000),
        "probe_samples": (50_000, 10_000),
        "extract_images": (10_240, 512),
    }
    for name, (on_gpu, on_cpu) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, on_gpu if gpu else on_cpu)
    if args.stat == "auto":
        args.stat = "mean" if gpu else "median"


def run_methods(settings: Settings, methods: list[str], rounds: int) -> list[dict[str, Any]]:
    return [
        {"method": method, **compare_step(method_config(method, [], settings), settings, rounds)}
        for method in methods
    ]


def missing_inputs(method: str, heads: list[str]) -> list[str]:
    """StepOutput fields the heads read and the method does not produce."""
    produces = METHODS.get(method).produces
    needed = {name for head in heads if head in HEADS for name in HEADS.get(head).inputs}
    return sorted(needed - produces)


def run_heads(
    settings: Settings,
    method: str,
    head_sets: list[str],
    methods: list[dict[str, Any]],
    rounds: int,
) -> dict[str, Any]:
    """Step time of each head set relative to the plain step (reused from the methods section
    when it measured the same method)."""
    plain = next((row["framework"] for row in methods if row["method"] == method), None)
    if plain is None:
        cfg = method_config(method, [], settings)
        plain = fastest_of_rounds(rounds, cfg, settings, run_framework)[0].as_dict()
    rows = [{"heads": [], **plain, "relative_step_time": 1.0}]
    for head_set in head_sets:
        heads = [name for name in head_set.split(",") if name]
        missing = missing_inputs(method, heads)
        if missing:
            rows.append({"heads": heads, "skipped": f"needs {', '.join(missing)}"})
            continue
        cfg = method_config(method, heads, settings)
        result = fastest_of_rounds(rounds, cfg, settings, run_framework)[0].as_dict()
        relative = result["seconds_per_step"] / plain["seconds_per_step"]
        rows.append({"heads": heads, **result, "relative_step_time": relative})
    return {"method": method, "rows": rows}


def run_eval(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    cfg = method_config("simclr", [], settings)
    backbone = backbone_from_config(cfg, settings.image_size)
    dim, classes = backbone.num_features, cfg.data.num_classes
    device = settings.device
    return {
        "knn": evaluation.knn_speed(args.knn_train, args.knn_test, dim, classes, device),
        "linear_probe": evaluation.linear_probe_speed(
            settings, args.probe_samples, dim, classes, 256, args.probe_epochs
        ),
        "extraction": evaluation.extraction_speed(
            backbone, args.extract_images, settings.batch_size, settings.image_size, device
        ),
    }


def run_data(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    cfg = method_config("simclr", [], settings)
    with tempfile.TemporaryDirectory(prefix="hyperssl-benchmark-jpegs-") as folder:
        root = write_jpeg_folder(Path(folder), args.folder_images, distinct=args.folder_images)
        folder_rows = [
            folder_speed(root, FOLDER_CROP, FOLDER_BATCH, augment_on, cpu_count(), settings.device)
            for augment_on in ("workers", "batch")
        ]
    return {
        "per_image": augmentation.per_image_speed(cfg, args.aug_images),
        "batched": augmentation.batched_speed(cfg, settings.batch_size, 4, settings.device),
        "batched_device": str(settings.device),
        "folder": folder_rows,
    }


def print_tables(results: dict[str, Any]) -> None:
    renderers = {
        "methods": report.methods_table,
        "heads": report.heads_table,
        "eval": report.eval_table,
        "data": report.data_table,
        "solo": report.side_by_side_table,
    }
    for section, render in renderers.items():
        if section in results:
            print(render(results[section]))


def run_sections(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "methods" in args.sections:
        results["methods"] = run_methods(settings, args.methods, args.rounds)
    if "heads" in args.sections:
        methods = results.get("methods", [])
        results["heads"] = run_heads(settings, args.heads_method, args.heads, methods, args.rounds)
    if "eval" in args.sections:
        results["eval"] = run_eval(settings, args)
    if "data" in args.sections:
        results["data"] = run_data(settings, args)
    if "solo" in args.sections:
        results["solo"] = side_by_side.run_side_by_side(
            settings, args.methods, args.rounds, args.loss_batch_sizes, args.neighbour
        )
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections; print the tables, write the JSON and return its content."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    device_defaults(args)
    device = torch.device(args.device)
    settings = Settings(
        args.backbone, args.image_size, args.batch_size, device, args.precision,
        args.warmup, args.steps, args.stat, args.seed, list(args.override),
    )  # fmt: skip
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads or threads_before)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "command": shlex.join(["python", "scripts/benchmark.py", *argv]),
        "environment": environment(device),
        "settings": {**vars(args), "out": str(args.out), "memory": memory_description(device)},
    }
    try:
        with quiet_lightning():
            results |= run_sections(args, settings)
    finally:
        torch.set_num_threads(threads_before)
    results["wall_seconds"] = time.perf_counter() - start
    print_tables(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{results['wall_seconds']:.0f} s; results in {args.out}")
    return results


if __name__ == "__main__":
    main()
