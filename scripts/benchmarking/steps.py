"""One training step measured on both sides: the framework's ``pl.Trainer.fit`` and a bare loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from omegaconf import DictConfig

from benchmarking.bare import run_bare
from benchmarking.framework import Settings, run_framework
from benchmarking.measure import StepResult


def fastest_of_rounds(
    rounds: int, cfg: DictConfig, settings: Settings, *runs: Callable[..., StepResult]
) -> list[StepResult]:
    """Every run ``rounds`` times, interleaved (a burst of load elsewhere then hits one round,
    not one side); for each run the round of the fastest step (other processes only add time)."""
    kept: list[list[StepResult]] = [[] for _ in runs]
    for _ in range(rounds):
        for run, results in zip(runs, kept, strict=True):
            results.append(run(cfg, settings))
    return [min(results, key=lambda result: result.seconds_per_step) for results in kept]


def compare_step(cfg: DictConfig, settings: Settings, rounds: int) -> dict[str, Any]:
    """The step of ``cfg``'s method in the framework and in the bare loop: both results and the
    framework's overhead (its time per step over the bare loop's)."""
    # One untimed step first: one-time costs of new shapes (kernel selection, scratch buffers,
    # cuDNN autotuning) then land in neither side's time or memory.
    run_bare(cfg, replace(settings, warmup=0, steps=1))
    framework, bare = fastest_of_rounds(rounds, cfg, settings, run_framework, run_bare)
    return {
        "framework": framework.as_dict(),
        "bare": bare.as_dict(),
        "overhead": framework.seconds_per_step / bare.seconds_per_step,
    }
