"""What a run leaves behind: run directory checks, backbone weights, summary.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from safetensors.torch import save_file
from torch import nn

from hyperssl.errors import ConfigError

RESULT_FILES = ("summary.json", "backbone.safetensors", "checkpoints", "metrics.csv")


def ensure_fresh_run_dir(run_dir: Path) -> None:
    """Refuse a run directory that already holds results: nothing is ever overwritten."""
    existing = [name for name in RESULT_FILES if (run_dir / name).exists()]
    if existing:
        raise ConfigError(
            "hydra.run.dir",
            f"{run_dir} already holds a run ({', '.join(existing)})",
            "a new directory, or resume=<that run dir> to continue it in a new one",
        )


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
