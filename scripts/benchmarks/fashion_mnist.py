"""The seed papers' claims at the scale of a 2-core CPU, on Fashion-MNIST from the Debian package
``dataset-fashion-mnist`` (found without a path), with the README's table as output.

    python scripts/benchmarks/fashion_mnist.py                        # every claim, resumable
    python scripts/benchmarks/fashion_mnist.py --claims spherization_fnn mhe --seeds 5 6 7
    python scripts/benchmarks/fashion_mnist.py --table-only           # the table of what ran
    python scripts/benchmarks/fashion_mnist.py --list                 # claims, arms and budgets
    python scripts/benchmarks/fashion_mnist.py --override trainer=gpu  # to every run (and probe)

Each claim compares arms (configurations) over seeds under a stated budget. A run is one
``main_pretrain.py`` call (and a ``main_linear.py`` call where the claim reads a linear probe) in
``<out>/<claim>/<arm>/seed<k>``; a run whose ``summary.json`` exists is skipped, so the script
resumes where it stopped and the table can be completed over several sittings. A run interrupted
before its summary is moved aside to ``<dir>.incomplete-<time>`` (never deleted) and run again.
``<out>/table.md`` holds mean ± std over seeds per arm, next to the paper's reported figure and
whether the claim reproduces here; ``<out>/results.json`` every run's figures. The alignment and
uniformity claim also gets Wang & Isola's plane (``collect_results.py``: ``align_uniform.png``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRESETS = "scripts/benchmarks/fashion_mnist"


@dataclass(frozen=True)
class Arm:
    """One configuration of a claim: its overrides on the claim's preset."""

    name: str
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Claim:
    """A paper's claim, the runs that check it and how to read them.

    ``metric``: the summary key compared (``linear_top1`` runs a linear probe after
    pretraining); ``verdict`` reads the per-arm lists of that metric and says whether the claim
    holds here; ``paper`` is what the paper reports, ``scale`` how our runs differ from its.
    """

    name: str
    paper: str
    scale: str
    config_path: str
    config_name: str
    arms: tuple[Arm, ...]
    budget: tuple[str, ...]
    metric: str
    verdict: Callable[[Figures], str]
    seeds: tuple[int, ...] = (5, 6, 7)
    extra_metrics: tuple[str, ...] = field(default=())
    needs_gpu: bool = False  # run by default only where CUDA is available


Figures = dict[str, list[dict[str, float]]]
"""Per arm, one dict of summary values per finished seed."""


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def at_least(arm: str, baseline: str, metric: str, tolerance: float) -> Callable[[Figures], str]:
    """Holds when ``arm``'s mean ``metric`` is no more than ``tolerance`` points below
    ``baseline``'s."""

    def verdict(results: Figures) -> str:
        gap = mean([r[metric] for r in results[arm]]) - mean([r[metric] for r in results[baseline]])
        return f"{'yes' if gap >= -tolerance else 'no'}: {arm} - {baseline} = {gap:+.2f}"

    return verdict


def improves(arms: tuple[str, ...], baseline: str, metric: str) -> Callable[[Figures], str]:
    """Holds for each of ``arms`` whose mean ``metric`` exceeds ``baseline``'s by more than the
    spread of the two (the larger standard deviation over seeds)."""

    def verdict(results: Figures) -> str:
        base = [r[metric] for r in results[baseline]]
        parts = []
        for arm in arms:
            values = [r[metric] for r in results[arm]]
            gap, spread = mean(values) - mean(base), max(std(values), std(base))
            word = "yes" if gap > spread else ("within noise" if gap > -spread else "no")
            parts.append(f"{arm}: {word} ({gap:+.2f}, spread {spread:.2f})")
        return "; ".join(parts)

    return verdict


def correlation(xs: list[float], ys: list[float]) -> float:
    """Pearson's r (nan when either side is constant)."""
    mx, my = mean(xs), mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else math.nan


def tracks_lower_losses(metric: str, losses: tuple[str, ...]) -> Callable[[Figures], str]:
    """Wang & Isola (their Fig. 5): across the runs, ``metric`` rises as each of ``losses``
    falls: holds when every Pearson correlation of the accuracy with a loss is negative."""

    def verdict(results: Figures) -> str:
        runs = [run for arm_runs in results.values() for run in arm_runs]
        accuracy = [run[metric] for run in runs]
        r = {loss: correlation(accuracy, [run[loss] for run in runs]) for loss in losses}
        held = all(value < 0 for value in r.values())
        detail = ", ".join(f"r({metric}, {loss}) = {value:+.2f}" for loss, value in r.items())
        return f"{'yes' if held else 'no'}: {detail}"

    return verdict


# The plain network of a retention claim keeps the ReLU before its linear classifier, as the
# reference's plain nets do (the spherized one ends in the spherization layer instead).
SPHERIZATION_ARMS = (
    Arm("plain", ("method.classifier=linear", "backbone.kwargs.last_relu=true")),
    Arm("spherized"),
)
# MoCo v2+ with the digits preset's queue and temperature (scripts/pretrain/digits/mocov2plus.yaml).
METHOD_OVERRIDES = {
    "simclr": ("method=simclr",),
    "mocov2plus": ("method=mocov2plus", "method.temperature=0.2", "method.queue_size=2048"),
}
GCL_ARMS = tuple(
    Arm(f"{method}-{geometry}", (*overrides, f"geometry={geometry}"))
    for method, overrides in METHOD_OVERRIDES.items()
    for geometry in ("cosine", "geodesic")
)


def spherization_claim(
    network: str,
    label: str,
    paper: tuple[float, float],
    epochs: int,
    recipe_epochs: int,
    needs_gpu: bool = False,
) -> Claim:
    """Kim & Kim's retention claim for one network on Fashion-MNIST (``label`` names the
    paper's data set and network), plain against spherized; holds when the spherized mean is at
    most half a point below."""
    return Claim(
        name=f"spherization_{network}",
        paper=f"Kim & Kim 2022: spherization retains accuracy ({label}: {paper[0]:.2f} "
        f"plain, {paper[1]:.2f} spherized)",
        scale=f"Fashion-MNIST, {epochs} of the recipe's {recipe_epochs} epochs",
        config_path="scripts/supervised/fashion_mnist",
        config_name=f"spherization_{network}.yaml",
        arms=SPHERIZATION_ARMS,
        budget=(f"trainer.max_epochs={epochs}",),
        metric="val/acc1",
        verdict=at_least("spherized", "plain", "val/acc1", 0.5),
        needs_gpu=needs_gpu,
    )


CLAIMS = (
    spherization_claim("fnn", "MNIST SimpleFNN", (98.58, 98.65), epochs=3, recipe_epochs=100),
    spherization_claim("lenet5", "MNIST LeNet-5", (99.10, 99.14), epochs=2, recipe_epochs=20),
    # The paper's own Fashion-MNIST run, its whole recipe (the preset trains on a GPU, bf16).
    spherization_claim(
        "vgg11",
        "Fashion-MNIST VGG-11",
        (94.36, 94.34),
        epochs=100,
        recipe_epochs=100,
        needs_gpu=True,
    ),
    Claim(
        name="mhe",
        paper="Liu et al. 2018: MHE and half-space MHE lower the error of a CNN (CIFAR-100 "
        "CNN-9: 28.x % baseline, about a point lower with MHE)",
        scale="Fashion-MNIST, LeNet-5, 3 epochs of SGD",
        config_path=PRESETS,
        config_name="supervised_cnn.yaml",
        arms=(
            Arm("baseline"),
            Arm("mhe", ("heads=[mhe]",)),
            Arm("half_mhe", ("heads=[mhe]", "heads.mhe.half_space=true")),
            # The reference's final-layer coefficient (10 for s = 0) against the hidden layers' 1.
            Arm("mhe_final1", ("heads=[mhe]", "heads.mhe.final_weight=1.0")),
        ),
        budget=("trainer.max_epochs=3",),
        metric="val/acc1",
        verdict=improves(("mhe", "half_mhe", "mhe_final1"), "baseline", "val/acc1"),
    ),
    Claim(
        name="gcl",
        paper="Koishekenov et al. 2023: the geodesic geometry matches or beats the cosine in "
        "SimCLR and MoCo v2+ (CIFAR-10/100, ImageNet-100 linear accuracy)",
        scale="Fashion-MNIST, convnet4, 2 epochs of 100 batches of 128, linear probe 20 epochs "
        "on frozen features",
        config_path=PRESETS,
        config_name="simclr.yaml",
        arms=GCL_ARMS,
        budget=("trainer.max_epochs=2", "trainer.limit_train_batches=100"),
        metric="linear_top1",
        extra_metrics=("knn_top1",),
        verdict=lambda results: "; ".join(
            at_least(f"{method}-geodesic", f"{method}-cosine", "linear_top1", 0.5)(results)
            for method in ("simclr", "mocov2plus")
        ),
    ),
    Claim(
        name="align_uniform",
        paper="Wang & Isola 2020: across objectives, downstream accuracy tracks lower alignment "
        "and uniformity losses (Fig. 5)",
        scale="Fashion-MNIST, SimCLR's encoder trained by L_align + λ L_unif alone, λ swept, "
        "2 epochs of 100 batches of 128",
        config_path=PRESETS,
        config_name="simclr.yaml",
        arms=tuple(
            Arm(
                f"lambda{lam:g}",
                (
                    "heads=[align_uniform]",
                    "method.objective_weight=0",
                    f"heads.align_uniform.lam={lam:g}",
                ),
            )
            for lam in (0.1, 0.3, 1.0, 3.0, 10.0)
        ),
        budget=("trainer.max_epochs=2", "trainer.limit_train_batches=100"),
        metric="knn_top1",
        extra_metrics=("val/alignment", "val/uniformity"),
        verdict=tracks_lower_losses("knn_top1", ("val/alignment", "val/uniformity")),
    ),
    Claim(
        name="hcr",
        paper="Tan et al. 2022: HCR improves a supervised classifier (CIFAR-10/100, mainly with "
        "few labels or noisy labels)",
        scale="Fashion-MNIST, LeNet-5, 3 epochs of SGD, all labels clean",
        config_path=PRESETS,
        config_name="supervised_cnn.yaml",
        arms=(Arm("baseline"), Arm("hcr", ("heads=[hcr]", "method.use_projector=true"))),
        budget=("trainer.max_epochs=3",),
        metric="val/acc1",
        verdict=improves(("hcr",), "baseline", "val/acc1"),
    ),
)


def has_gpu() -> bool:
    import torch  # here, so that --list and --table-only start without it

    return torch.cuda.is_available()


def run_dir(out: Path, claim: Claim, arm: Arm, seed: int) -> Path:
    return out / claim.name / arm.name / f"seed{seed}"


def move_incomplete_aside(directory: Path) -> None:
    """An interrupted run's folder goes to ``<dir>.incomplete-<time>``: kept, out of the way."""
    if directory.exists():
        directory.rename(directory.with_name(f"{directory.name}.incomplete-{time.time():.0f}"))


def call(command: list[str], log: Path) -> None:
    """Run an entry point from the repository root, its output to ``log``; stop on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as file:
        done = subprocess.run(command, cwd=REPO, stdout=file, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command[1:3])} failed (exit {done.returncode}); see {log}")


def run(claim: Claim, arm: Arm, seed: int, out: Path, extra: tuple[str, ...] = ()) -> None:
    """Pretrain (and probe, for linear_top1) unless the run's summaries are there; ``extra``
    overrides go to both."""
    directory = run_dir(out, claim, arm, seed)
    pretrain_summary = directory / "summary.json"
    if not pretrain_summary.is_file():
        move_incomplete_aside(directory)
        print(f"{claim.name}/{arm.name}/seed{seed}: pretraining", flush=True)
        call(
            [
                sys.executable,
                "main_pretrain.py",
                "--config-path",
                claim.config_path,
                "--config-name",
                claim.config_name,
                *claim.budget,
                *arm.overrides,
                f"seed={seed}",
                "trainer.enable_progress_bar=false",
                *extra,
                f"hydra.run.dir={directory}",
            ],
            out / "logs" / f"{claim.name}-{arm.name}-seed{seed}.log",
        )
    if claim.metric != "linear_top1":
        return
    probe = directory / "linear"
    if not (probe / "summary.json").is_file():
        move_incomplete_aside(probe)
        print(f"{claim.name}/{arm.name}/seed{seed}: linear probe", flush=True)
        call(
            [
                sys.executable,
                "main_linear.py",
                "data=fashion_mnist",
                f"pretrained_feature_extractor={directory}",
                "trainer.max_epochs=20",
                "trainer.enable_progress_bar=false",
                f"seed={seed}",
                *extra,
                f"hydra.run.dir={probe}",
            ],
            out / "logs" / f"{claim.name}-{arm.name}-seed{seed}-linear.log",
        )


def figures(claim: Claim, arm: Arm, seed: int, out: Path) -> dict[str, float] | None:
    """The run's metric and extra metrics, or None when it has not run."""
    directory = run_dir(out, claim, arm, seed)
    paths = [directory / "summary.json"]
    if claim.metric == "linear_top1":
        paths.append(directory / "linear" / "summary.json")
    if not all(path.is_file() for path in paths):
        return None
    summary = {}
    for path in paths:
        summary |= json.loads(path.read_text())
    return {key: float(summary[key]) for key in (claim.metric, *claim.extra_metrics)}


def claim_table(claim: Claim, out: Path, seeds: tuple[int, ...]) -> tuple[str, Figures]:
    """The Markdown rows of one claim and its runs' figures."""
    per_arm: Figures = {}
    for arm in claim.arms:
        runs = [figures(claim, arm, seed, out) for seed in seeds]
        per_arm[arm.name] = [run for run in runs if run is not None]
    lines = [f"### {claim.name}", "", f"Paper: {claim.paper}. Here: {claim.scale}.", ""]
    header = ["arm", "seeds", claim.metric, *claim.extra_metrics]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm in claim.arms:
        runs = per_arm[arm.name]
        cells = [arm.name, str(len(runs))]
        for key in (claim.metric, *claim.extra_metrics):
            values = [run[key] for run in runs]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(f"{values[0]:.2f}")
            else:
                cells.append(f"{mean(values):.2f} ± {std(values):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    complete = all(len(per_arm[arm.name]) == len(seeds) for arm in claim.arms)
    lines += ["", f"Reproduces: {claim.verdict(per_arm) if complete else 'not all runs done'}"]
    return "\n".join(lines) + "\n", per_arm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "fashion_mnist")
    names = [claim.name for claim in CLAIMS]
    parser.add_argument(
        "--claims",
        nargs="+",
        choices=names,
        help="default: every claim, those that need a GPU only where CUDA is available",
    )
    parser.add_argument("--seeds", nargs="+", type=int, help="default: each claim's own")
    parser.add_argument("--table-only", action="store_true", help="run nothing, write the table")
    parser.add_argument("--list", action="store_true", help="print the claims and exit")
    parser.add_argument(
        "--override",
        nargs="+",
        default=[],
        help="overrides for every run, e.g. data.train_path=DIR or trainer=gpu (a run already "
        "finished is not rerun with them)",
    )
    args = parser.parse_args(argv)
    if args.claims:
        chosen = [claim for claim in CLAIMS if claim.name in args.claims]
    elif args.list or args.table_only:
        chosen = list(CLAIMS)
    else:
        chosen = [claim for claim in CLAIMS if not claim.needs_gpu or has_gpu()]
    if args.list:
        for claim in chosen:
            arms = ", ".join(arm.name for arm in claim.arms)
            where = " (needs a GPU)" if claim.needs_gpu else ""
            budget = " ".join(claim.budget)
            print(f"{claim.name}{where}: {arms}; seeds {claim.seeds}; budget {budget}")
        return 0
    cpu_only = not (args.table_only or has_gpu())
    for claim in chosen:
        if claim.needs_gpu and cpu_only:
            sys.exit(f"error: claim {claim.name} needs a GPU and CUDA is not available here")
    sections, everything = [], {}
    for claim in chosen:
        seeds = tuple(args.seeds) if args.seeds else claim.seeds
        if not args.table_only:
            for seed in seeds:
                for arm in claim.arms:
                    run(claim, arm, seed, args.out, tuple(args.override))
        if claim.name == "align_uniform" and not args.table_only:
            subprocess.run(
                [sys.executable, "scripts/collect_results.py", str(args.out / claim.name)]
                + ["--metric", claim.metric, "--colour-by", claim.metric],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                check=True,
            )
        table, per_arm = claim_table(claim, args.out, seeds)
        sections.append(table)
        everything[claim.name] = per_arm
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text("\n".join(sections))
    (args.out / "results.json").write_text(json.dumps(everything, indent=2) + "\n")
    print("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
