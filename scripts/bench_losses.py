"""Micro-benchmark of the losses' forward + backward against the [2B, D] x [D, 2B] matmul.

    python scripts/bench_losses.py                            # B = 256, 1024, 4096 on CPU
    python scripts/bench_losses.py --batch-sizes 256 1024 --threads 1
    python scripts/bench_losses.py --device cuda

Every row times one call of the loss and its backward with
``torch.utils.benchmark.Timer.blocked_autorange``, keeping the fastest block of the best of
``--rounds`` interleaved rounds (other processes only ever add time, so on a shared machine the
minimum is the stable statistic; ``--stat median`` takes each round's median instead).
"x matmul" divides it by the time of the product of the stacked embeddings with their
transpose, the unavoidable core of NT-Xent. NT-Xent, the MoCo queue and BYOL run for every
registered geometry, by name as the methods pass it; the last rows compare each with the cosine.
The MHE row is the energy of every conv layer of a torchvision ResNet-18 (independent of B).
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.benchmark import Timer

from hyperssl.geometries import GEOMETRIES
from hyperssl.losses import (
    align_loss,
    byol_loss,
    hcr_loss,
    info_nce_queue,
    mhe_embedding_energy,
    nt_xent,
    uniform_loss,
)
from hyperssl.regularizers import MHE


def _seconds(fn: Callable[[], object], threads: int, min_run_time: float, stat: str) -> float:
    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    return min(measurement.times) if stat == "min" else measurement.median


def _cases(batch: int, dim: int, queue_size: int, device: torch.device) -> dict[str, Callable]:
    def leaf(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=device, requires_grad=True)

    z1, z2, p = leaf(batch, dim), leaf(batch, dim), leaf(batch, dim)
    target = torch.randn(batch, dim, device=device)
    queue = F.normalize(torch.randn(queue_size, dim, device=device), dim=1)
    unit = F.normalize(torch.randn(batch, dim, device=device), dim=1).requires_grad_(True)
    logits = leaf(batch, 100)
    resnet = torchvision.models.resnet18().to(device)
    mhe = MHE(resnet, layer_filter=lambda _, module: isinstance(module, nn.Conv2d))
    cases: dict[str, Callable] = {}
    for name in GEOMETRIES.names():
        cases[f"nt_xent {name}"] = lambda g=name: nt_xent(z1, z2, 0.2, g).backward()
    for name in GEOMETRIES.names():
        cases[f"info_nce_queue {name} K={queue_size}"] = lambda g=name: info_nce_queue(
            z1, z2, queue, 0.2, g
        ).backward()
    for name in GEOMETRIES.names():
        cases[f"byol {name}"] = lambda g=name: byol_loss(p, target, g).backward()
    return cases | {
        "align": lambda: align_loss(unit, target).backward(),
        "uniform": lambda: uniform_loss(unit).backward(),
        "mhe_embedding_energy": lambda: mhe_embedding_energy(unit).backward(),
        "hcr (100 classes)": lambda: hcr_loss(logits, z1).backward(),
        "MHE ResNet-18 convs": lambda: mhe().backward(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queue-size", type=int, default=4096)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per row")
    parser.add_argument("--stat", choices=["min", "median"], default="min")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, best kept")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(
        f"device={device} threads={args.threads} D={args.dim} stat={args.stat} "
        f"torch={torch.__version__}"
    )
    measure = functools.partial(
        _seconds, threads=args.threads, min_run_time=args.min_run_time, stat=args.stat
    )
    for batch in args.batch_sizes:
        stacked = torch.randn(2 * batch, args.dim, device=device)
        cases = {"matmul": lambda s=stacked: s @ s.T}
        cases.update(_cases(batch, args.dim, args.queue_size, device))
        # Rounds interleave the rows, so a burst of load elsewhere hits one round, not one row.
        times = dict.fromkeys(cases, math.inf)
        for _ in range(args.rounds):
            for name, step in cases.items():
                times[name] = min(times[name], measure(step))
        matmul = times.pop("matmul")
        print(f"\nB={batch}: [2B, D] x [D, 2B] matmul {matmul * 1e3:.3f} ms")
        print(f"{'loss (forward + backward)':<34}{'ms':>10}{'x matmul':>10}")
        for name, seconds in times.items():
            print(f"{name:<34}{seconds * 1e3:>10.3f}{seconds / matmul:>10.2f}")
        others = [name for name in GEOMETRIES.names() if name != "cosine"]
        for loss, suffix in (("nt_xent", ""), ("info_nce_queue", f" K={args.queue_size}")):
            for name in others:
                ratio = times[f"{loss} {name}{suffix}"] / times[f"{loss} cosine{suffix}"]
                print(f"{f'{name} / cosine {loss}':<34}{'':>10}{ratio:>10.2f}")


if __name__ == "__main__":
    main()
