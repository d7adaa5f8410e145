"""A reproducible busy neighbour: another process doing matrix products on the same cores.

Clusters and shared workstations rarely give a job its cores alone. Code made of many short
parallel regions (one per op of a blocked loop) suffers most there: every region waits at its end
for its slowest thread, and a thread the OS has descheduled in favour of the neighbour stalls
them all. Large operations barely notice. The benchmarks run their rows quiet and then next to
this neighbour, so the two situations are compared on the same machine in the same run.

The neighbour is a separate process (a thread would share the GIL and torch's thread pool) that
multiplies two float32 [size, size] matrices in a loop on ``threads`` intra-op threads, pinned to
the benchmark's own cores, until the block ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

MATRIX_SIZE = 512  # 2 x 512³ flops: a few ms per product, so the load never pauses for long

# Run with ``python -c`` rather than multiprocessing: spawn would re-import the caller's main
# module, which a benchmark script need not guard.
_NEIGHBOUR = """
import sys, torch
threads, size = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
a, b = torch.randn(size, size), torch.randn(size, size)
torch.mm(a, b)
print("ready", flush=True)
while True:
    torch.mm(a, b)
"""


@contextmanager
def busy_neighbour(
    threads: int | None, size: int = MATRIX_SIZE
) -> Iterator[subprocess.Popen | None]:
    """Inside the block another process (yielded) keeps ``threads`` threads busy with matrix
    products on this process's cores; ``threads`` None or 0 runs the block quiet (None yielded)."""
    if not threads:
        yield None
        return
    command = [sys.executable, "-c", _NEIGHBOUR, str(threads), str(size)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(process.pid, os.sched_getaffinity(0))
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the busy neighbour did not start (exit {process.wait()})")
        yield process
    finally:
        process.kill()
        process.wait()


def neighbour_label(threads: int | None) -> str:
    """How a row's load is named in the tables."""
    return f"busy neighbour ({threads} threads)" if threads else "quiet"
