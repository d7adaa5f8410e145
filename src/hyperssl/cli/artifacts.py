"""What a run leaves behind: run directory checks, backbone weights, summary.json."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import save_file
from torch import nn

from hyperssl.backbones.registry import BACKBONES, wants_small_stem
from hyperssl.checkpoint_io import INTERRUPTED_CHECKPOINT, remove_stale_temporaries
from hyperssl.cli.run_claim import claim_run_dir
from hyperssl.errors import ConfigError
from hyperssl.methods.base import pretrain_crop_size

log = logging.getLogger(__name__)

RESULT_FILES = ("summary.json", "backbone.safetensors", "checkpoints", "metrics.csv")
FINISHED_RUN_FILES = ("summary.json", "backbone.safetensors")  # written when training ends


def is_global_rank_zero() -> bool:
    """True unless this process was started as a further rank (by Lightning, torchrun or SLURM):
    only the first process checks and writes a run directory's files."""
    ranks = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return all(int(os.environ.get(name, "0")) == 0 for name in ranks)


def drop_further_ranks_log() -> None:
    """Lightning starts each further DDP process with ``hydra.job.name=train_ddp_process_<n>``,
    so Hydra gives it a log of its own in the run directory, repeating the first process's. Such
    a process logs to its stderr (which Lightning passes on) only; the file it just opened, still
    empty, is removed (one left by an earlier process is kept)."""
    if is_global_rank_zero():
        return
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)
            handler.close()
            path = Path(handler.baseFilename)
            if path.name.startswith("train_ddp_process_") and path.stat().st_size == 0:
                path.unlink()


def check_inside_sweep_dir(run_dir: Path) -> None:
    """A sweep job's directory lies inside its sweep's: a ``hydra.sweep.subdir`` that leads out
    of it (``..``, an absolute path) could reach another run's directory."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    sweep_dir = Path(HydraConfig.get().sweep.dir).resolve()
    if not run_dir.resolve().is_relative_to(sweep_dir):
        raise ConfigError(
            "hydra.sweep.subdir",
            f"{HydraConfig.get().sweep.subdir!r} puts the job at {run_dir}, outside the sweep "
            f"directory {sweep_dir}",
            "a path inside hydra.sweep.dir",
        )


def ensure_fresh_run_dir(run_dir: Path, unfinished_ok: bool = False) -> None:
    """Refuse a run directory that already holds results: nothing is ever overwritten.

    unfinished_ok: accept what a run killed before its first checkpoint leaves behind.
    Claims the run dir first (:func:`claim_run_dir`), so that two runs started together cannot
    both find it fresh.
    """
    check_inside_sweep_dir(run_dir)
    claim_run_dir(run_dir)
    names = FINISHED_RUN_FILES if unfinished_ok else RESULT_FILES
    existing = [name for name in names if (run_dir / name).exists()]
    if existing:
        raise ConfigError(
            "hydra.run.dir",
            f"{run_dir} already holds a run ({', '.join(existing)})",
            "a new directory, or resume=<that run dir> to continue it in a new one",
        )


def record_hydra_files(run_dir: Path, cfg: DictConfig) -> None:
    """Hydra's record of the run in ``.hydra/`` (config, Hydra's config, the command-line
    overrides), as Hydra writes it, after the run directory has been checked; kept as it is
    when a run continues in place."""
    record = run_dir / ".hydra"
    if record.exists():
        return
    record.mkdir(parents=True)
    hydra = HydraConfig.get()
    OmegaConf.save(cfg, record / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": hydra}), record / "hydra.yaml")
    OmegaConf.save(hydra.overrides.task, record / "overrides.yaml")


def read_checkpoint(path: Path) -> Any:
    """A checkpoint to resume from, loaded without running code from it (``weights_only``); one
    line naming it on ``resume`` when it does not load."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # any unreadable file: truncated, empty, not a torch file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError("resume", f"{path} is not a readable checkpoint ({reason})") from error


def check_resumable(path: Path, cfg: DictConfig) -> None:
    """The checkpoint loads, is a hyperssl pretraining checkpoint, and is of this run's method and
    backbone: otherwise Lightning would fail deep inside with a state-dict mismatch."""
    checkpoint = read_checkpoint(path)
    saved = (
        checkpoint.get("hyper_parameters", {}).get("cfg") if isinstance(checkpoint, dict) else None
    )
    if not saved or "state_dict" not in checkpoint:
        raise ConfigError("resume", f"{path} is not a hyperssl pretraining checkpoint")
    if saved["method"]["name"] != cfg.method.name:
        _refuse_other(path, "method", saved["method"]["name"], cfg.method.name)
    current = OmegaConf.to_container(cfg.backbone, resolve=True)
    # Compared as schema objects, so that keys a checkpoint predates count with their defaults.
    theirs = BACKBONES.typed(saved["backbone"]["name"], saved["backbone"], "resume")
    if theirs != BACKBONES.typed(cfg.backbone.name, current, "backbone"):
        _refuse_other(path, "backbone", saved["backbone"], current)


def _refuse_other(path: Path, what: str, theirs: Any, ours: Any) -> None:
    raise ConfigError(
        "resume",
        f"{path} holds a {what} {theirs!r}, this run has {ours!r}",
        f"a checkpoint of the same {what}",
    )


def checkpoint_to_resume(resume: str | None, run_dir: Path, cfg: DictConfig) -> Path | None:
    """The checkpoint ``resume`` names; ``auto``: see :func:`continue_in_place`. Checks the run
    dir is new otherwise. Claims the run dir first (:func:`claim_run_dir`): a run dir another
    live run holds is refused, whether new or to be continued."""
    if is_global_rank_zero():
        claim_run_dir(run_dir)
    if resume == "auto":
        return continue_in_place(run_dir, lambda path: check_resumable(path, cfg))
    if is_global_rank_zero():
        ensure_fresh_run_dir(run_dir)
    if not resume:
        return None
    path = resolve_checkpoint(resume)
    check_resumable(path, cfg)
    return path


def continue_in_place(run_dir: Path, check: Callable[[Path], None]) -> Path | None:
    """``resume=auto``: the run dir's newest checkpoint if any (a requeued or interrupted job
    continues in place, see :func:`newest_checkpoint`) once ``check`` accepts it, else a fresh
    start there, unless the run dir holds a finished run.

    A job killed mid-save leaves a temporary beside its checkpoints: removed here, before this
    run writes any. A job killed before its first checkpoint leaves a metrics.csv (and maybe an
    empty checkpoints folder): its training restarts from scratch, so they are overwritten.
    """
    check_inside_sweep_dir(run_dir)
    checkpoints = run_dir / "checkpoints"
    if is_global_rank_zero():
        for path in remove_stale_temporaries(checkpoints):
            log.info("removed %s, left by a process killed while saving a checkpoint", path)
    newest = newest_checkpoint(run_dir)
    if newest is not None:
        check(newest)
        return newest
    if is_global_rank_zero():
        ensure_fresh_run_dir(run_dir, unfinished_ok=True)
    return None


def _global_step(path: Path) -> int | None:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(checkpoint["global_step"])
    except Exception:  # unreadable: check_resumable says why if it is the only candidate
        return None


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint of ``run_dir`` with the highest recorded global step: ``last.ckpt`` (end of
    an epoch), ``interrupted.ckpt`` (a step boundary, written on a signal) or Lightning's
    ``hpc_ckpt_<n>.ckpt`` (written when SLURM asks for a requeue); on a tie, in that order. Only
    names a complete file can have: the atomic writer's temporaries are hidden ``.<name>.tmp``.
    """
    checkpoints = run_dir / "checkpoints"
    candidates = [
        path
        for path in (
            checkpoints / "last.ckpt",
            checkpoints / INTERRUPTED_CHECKPOINT,
            *sorted(run_dir.glob("hpc_ckpt_*.ckpt"), key=_hpc_number, reverse=True),
        )
        if path.is_file()
    ]
    if not candidates:
        return None
    steps = {path: _global_step(path) for path in candidates}
    readable = [path for path in candidates if steps[path] is not None]
    if not readable:
        return candidates[0]
    # max() keeps the first of equals: the order of the candidates breaks ties.
    return max(readable, key=lambda path: steps[path])


def _hpc_number(path: Path) -> int:
    number = path.stem.removeprefix("hpc_ckpt_")
    return int(number) if number.isdigit() else -1


def resolve_checkpoint(path: str, key: str = "resume") -> Path:
    """A checkpoint file, or a run directory whose ``checkpoints/last.ckpt`` is used."""
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        candidate = candidate / "checkpoints" / "last.ckpt"
    if not candidate.is_file():
        raise ConfigError(key, f"no checkpoint at {candidate}", "a .ckpt file or a run directory")
    return candidate


def save_backbone(backbone: nn.Module, path: Path, cfg: DictConfig) -> None:
    """Weights only, in safetensors (loadable without hyperssl); the backbone config as metadata,
    with ``small_stem`` as built (true or false, never null: a reader without hyperssl cannot
    know the crop-size rule that null stands for)."""
    tensors = {name: t.detach().cpu().contiguous() for name, t in backbone.state_dict().items()}
    backbone_cfg = OmegaConf.to_container(cfg.backbone, resolve=True)
    image_size = pretrain_crop_size(cfg)
    backbone_cfg["small_stem"] = wants_small_stem(image_size, backbone_cfg["small_stem"])
    metadata = {"backbone": json.dumps(backbone_cfg), "image_size": str(image_size)}
    save_file(tensors, str(path), metadata=metadata)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps({k: _plain(v) for k, v in summary.items()}, indent=2) + "\n")
