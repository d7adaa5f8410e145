"""Benchmark the chunked weighted k-NN: time and peak memory of a 50,000 x 10,000 evaluation.

    python scripts/bench_knn.py                      # 50k train, 10k test, D=512, 100 classes
    python scripts/bench_knn.py --device cuda --train 1000000

Features are random (the numbers measured are time and memory, not accuracy). Memory is the
process's resident set (CPU; sampled every 2 ms) or torch's allocator peak (CUDA), reported above
the features themselves; the full similarity matrix that a naive implementation would hold is
printed for comparison. The same chunks' matrix products alone (test chunk x train chunk,
nothing else) are timed first: the k-NN's time is reported as a multiple of theirs, the cost
no k-NN can avoid.
"""

from __future__ import annotations

import argparse
import time

import torch
from benchmarking.measure import MIB, PeakRSS, current_rss, synchronize

from hyperssl.eval.knn import knn_sweep


def products_seconds(
    train: torch.Tensor, test: torch.Tensor, test_chunk_size: int, train_chunk_size: int
) -> float:
    """Seconds of the products of every test chunk with every train chunk, and nothing else."""
    synchronize(train.device)
    start = time.perf_counter()
    for first in range(0, len(test), test_chunk_size):
        queries = test[first : first + test_chunk_size]
        for offset in range(0, len(train), train_chunk_size):
            queries @ train[offset : offset + train_chunk_size].T
    synchronize(train.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=50_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--k", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--temperature", type=float, nargs="+", default=[0.07])
    parser.add_argument("--test-chunk-size", type=int, default=1024)
    parser.add_argument("--train-chunk-size", type=int, default=16384)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    train = torch.randn(args.train, args.dim, generator=generator).to(args.device)
    test = torch.randn(args.test, args.dim, generator=generator).to(args.device)
    train_labels = torch.randint(0, args.classes, (args.train,), generator=generator)
    test_labels = torch.randint(0, args.classes, (args.test,), generator=generator)
    feature_bytes = (train.numel() + test.numel()) * 4
    print(
        f"{args.train} x {args.test} k-NN, D={args.dim}, {args.classes} classes, k={args.k}, "
        f"T={args.temperature}, chunks {args.test_chunk_size} x {args.train_chunk_size}, "
        f"{args.device}"
    )
    print(
        f"features: {feature_bytes / MIB:.0f} MiB; a full similarity matrix would be "
        f"{args.train * args.test * 4 / MIB:.0f} MiB"
    )
    chunks = args.test_chunk_size, args.train_chunk_size
    products_seconds(train, test[: args.test_chunk_size], *chunks)  # warm-up
    products = products_seconds(train, test, *chunks)
    print(f"matrix products alone {products:6.1f} s")
    for distance in ("cosine", "euclidean"):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            baseline = torch.cuda.memory_allocated()
        baseline_rss = current_rss()
        start = time.perf_counter()
        with PeakRSS() as rss:
            rows = knn_sweep(
                train, train_labels, test, test_labels, args.classes, args.k,
                args.temperature, distance, args.test_chunk_size, args.train_chunk_size,
            )  # fmt: skip
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        if args.device.startswith("cuda"):
            extra = torch.cuda.max_memory_allocated() - baseline
            memory = f"peak GPU memory above the features {extra / MIB:.0f} MiB"
        else:
            memory = (
                f"peak RSS {rss.peak / MIB:.0f} MiB, "
                f"{(rss.peak - baseline_rss) / MIB:.0f} MiB above the features"
            )
        print(
            f"{distance:9s} {seconds:6.1f} s ({seconds / products:.2f} x the products) for "
            f"{len(rows)} (k, T) settings; {memory}"
        )


if __name__ == "__main__":
    main()
