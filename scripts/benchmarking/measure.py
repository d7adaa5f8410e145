"""Timing, peak memory and the environment a benchmark ran in.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` over the block (absolute: weights,
gradients, optimizer state and activations), its counter reset on entry. On CPU the growth of the
process's resident set above its size on entry, sampled every 2 ms from /proc; before the entry
size is read, freed heap memory is handed back to the OS (glibc ``malloc_trim``), so memory that
an earlier measurement freed is not silently reused and missed.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import platform
import resource
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

MIB = 2**20


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def current_rss() -> int:
    """Resident set size in bytes (Linux /proc; else the peak so far)."""
    statm = Path("/proc/self/statm")
    if statm.is_file():
        return int(statm.read_text().split()[1]) * resource.getpagesize()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def release_freed_memory() -> None:
    """Collect garbage and return free heap pages to the OS (glibc only; elsewhere a no-op)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRSS:
    """The largest resident set size (bytes) seen while the block runs, sampled every
    ``interval`` seconds by a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval

    def __enter__(self) -> PeakRSS:
        self.start = current_rss()
        self.peak = self.start
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, current_rss())
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, current_rss())


class PeakMemory:
    """Peak memory of the block in MiB (``.mib``), as the module docstring describes."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mib = 0.0

    def __enter__(self) -> PeakMemory:
        release_freed_memory()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._rss = PeakRSS().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mib = torch.cuda.max_memory_allocated(self.device) / MIB
        else:
            self._rss.__exit__(*exc)
            self.mib = (self._rss.peak - self._rss.start) / MIB


def memory_description(device: torch.device) -> str:
    if device.type == "cuda":
        return "torch.cuda.max_memory_allocated during the run (absolute)"
    return "growth of the process's resident set during the run (sampled /proc, after malloc_trim)"


@dataclass
class StepClock:
    """Wall-clock marks at the start of each measured step and one when the last has finished.

    On CUDA only the first and last marks wait for the device, so steps still overlap as in a
    real run: the per-step periods are then launch times and only their total is meaningful.
    """

    device: torch.device
    marks: list[float] = field(default_factory=list)

    def start_step(self) -> None:
        if not self.marks:
            synchronize(self.device)
        self.marks.append(time.perf_counter())

    def stop(self) -> None:
        synchronize(self.device)
        self.marks.append(time.perf_counter())

    def periods(self) -> list[float]:
        return [end - start for start, end in zip(self.marks, self.marks[1:], strict=False)]


@dataclass
class StepResult:
    """Throughput and memory of some measured steps of ``batch_size`` images each."""

    images_per_second: float
    seconds_per_step: float
    peak_memory_mib: float
    step_seconds: list[float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def step_result(
    periods: list[float], batch_size: int, statistic: str, peak_memory_mib: float
) -> StepResult:
    """``statistic``: ``median`` of the step periods (robust to other processes' bursts, for
    CPU) or ``mean`` (total wall / steps, for CUDA's overlapping steps)."""
    if not periods:
        raise ValueError("no measured steps")
    seconds = statistics.median(periods) if statistic == "median" else sum(periods) / len(periods)
    return StepResult(batch_size / seconds, seconds, peak_memory_mib, periods)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, device and threads: what the numbers depend on besides the settings."""
    import pytorch_lightning as pl
    import timm
    import torchvision

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "lightning": pl.__version__,
        "timm": timm.__version__,
        "device": str(device),
        "device_name": device_name(device),
        "cuda": torch.version.cuda,
        "threads": torch.get_num_threads(),
        "cpu_count": cpu_count(),
    }


def cpu_count() -> int:
    """The CPUs this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
