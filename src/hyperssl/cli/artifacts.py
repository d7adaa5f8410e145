"""What a run leaves behind: run directory checks, backbone weights, summary.json."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import save_file
from torch import nn

from hyperssl.errors import ConfigError

RESULT_FILES = ("summary.json", "backbone.safetensors", "checkpoints", "metrics.csv")


def is_global_rank_zero() -> bool:
    """True unless this process was started as a further rank (by Lightning, torchrun or SLURM):
    only the first process checks and writes a run directory's files."""
    ranks = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return all(int(os.environ.get(name, "0")) == 0 for name in ranks)


def ensure_fresh_run_dir(run_dir: Path) -> None:
    """Refuse a run directory that already holds results: nothing is ever overwritten."""
    existing = [name for name in RESULT_FILES if (run_dir / name).exists()]
    if existing:
        raise ConfigError(
            "hydra.run.dir",
            f"{run_dir} already holds a run ({', '.join(existing)})",
            "a new directory, or resume=<that run dir> to continue it in a new one",
        )


def check_resumable(path: Path, cfg: DictConfig) -> None:
    """The checkpoint loads, is a hyperssl pretraining checkpoint, and is of this run's method and
    backbone: otherwise Lightning would fail deep inside with a state-dict mismatch."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # any unreadable file: truncated, empty, not a torch file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError("resume", f"{path} is not a readable checkpoint ({reason})") from error
    saved = (
        checkpoint.get("hyper_parameters", {}).get("cfg") if isinstance(checkpoint, dict) else None
    )
    if not saved or "state_dict" not in checkpoint:
        raise ConfigError("resume", f"{path} is not a hyperssl pretraining checkpoint")
    current = OmegaConf.to_container(cfg.backbone, resolve=True)
    for what, theirs, ours in (
        ("method", saved["method"]["name"], cfg.method.name),
        ("backbone", saved["backbone"], current),
    ):
        if theirs != ours:
            raise ConfigError(
                "resume",
                f"{path} holds a {what} {theirs!r}, this run has {ours!r}",
                f"a checkpoint of the same {what}",
            )


def checkpoint_to_resume(resume: str | None, run_dir: Path, cfg: DictConfig) -> Path | None:
    """The checkpoint ``resume`` names; ``auto``: this run dir's last.ckpt if any (a requeued
    SLURM job continues in place), else a fresh start. Checks the run dir is new otherwise."""
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.ckpt"
        if last.is_file():
            return last
        resume = None
    if is_global_rank_zero():
        ensure_fresh_run_dir(run_dir)
    if not resume:
        return None
    path = resolve_checkpoint(resume)
    check_resumable(path, cfg)
    return path


def resolve_checkpoint(path: str, key: str = "resume") -> Path:
    """A checkpoint file, or a run directory whose ``checkpoints/last.ckpt`` is used."""
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        candidate = candidate / "checkpoints" / "last.ckpt"
    if not candidate.is_file():
        raise ConfigError(key, f"no checkpoint at {candidate}", "a .ckpt file or a run directory")
    return candidate


def save_backbone(backbone: nn.Module, path: Path, cfg: DictConfig) -> None:
    """Weights only, in safetensors (loadable without hyperssl); the backbone config as metadata."""
    tensors = {name: t.detach().cpu().contiguous() for name, t in backbone.state_dict().items()}
    backbone_cfg = OmegaConf.to_container(cfg.backbone, resolve=True)
    metadata = {
        "backbone": json.dumps(backbone_cfg),
        "image_size": str(max(p.crop_size for p in cfg.augmentations)),
    }
    save_file(tensors, str(path), metadata=metadata)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps({k: _plain(v) for k, v in summary.items()}, indent=2) + "\n")
