"""Find and load a pretrained encoder: the backbone (and projector) with the config saved beside it.

The evaluation entry points accept, under ``pretrained_feature_extractor`` (or main_knn's
``--pretrained_checkpoint_dir``):

- a Lightning checkpoint ``*.ckpt`` written by ``main_pretrain.py`` (its ``hyper_parameters.cfg``
  is the resolved pretraining config, so the backbone's architecture is never repeated);
- a run directory (``checkpoints/last.ckpt``, else ``backbone.safetensors``) or any directory
  holding ``*.ckpt`` files, as solo-learn's ``--pretrained_checkpoint_dir`` (``last.ckpt`` if
  present, else the newest);
- ``backbone.safetensors`` (backbone only; its metadata holds the backbone config);
- ``latest``: the newest run under ``outputs/`` that holds one of the above. The run it stands
  for is logged with its data set; :func:`hyperssl.eval.data.check_pretraining_data` refuses it
  when that data set is not the evaluation's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from hyperssl.backbones import BACKBONES
from hyperssl.data.schema import MAX_IMAGE_SIZE
from hyperssl.errors import ConfigError
from hyperssl.methods.base import backbone_from_config, pretrain_crop_size

log = logging.getLogger(__name__)

KEY = "pretrained_feature_extractor"
ALLOWED = (
    "a .ckpt file, a run directory, a directory of .ckpt files, backbone.safetensors, or latest"
)
OUTPUTS = Path("outputs")


@dataclass
class PretrainedEncoder:
    """A pretrained backbone (eval mode, on CPU) and what is known about how it was trained.

    ``pretrain_cfg`` is the full pretraining config for a checkpoint, None for safetensors;
    ``pretrain_dataset`` the data set it was pretrained on (for safetensors, from the run's
    ``config.yaml`` beside it), None when unknown; ``latest_run`` the run directory that
    ``latest`` resolved to, None for an explicit path; ``projector`` is set only when it was
    asked for.
    """

    backbone: nn.Module
    projector: nn.Module | None
    source: Path
    image_size: int
    backbone_cfg: dict[str, Any]
    pretrain_cfg: DictConfig | None
    pretrain_dataset: str | None
    latest_run: Path | None = None

    def describe(self) -> dict[str, Any]:
        """What a summary.json records about the encoder."""
        info: dict[str, Any] = {
            "pretrained": str(self.source.resolve()),
            "backbone": self.backbone_cfg["name"],
        }
        if self.pretrain_cfg is not None:
            cfg = self.pretrain_cfg
            info |= {
                "method": cfg.method.name,
                "geometry": cfg.geometry.name,
                "heads": list(cfg.get("heads", {}) or {}),
            }
        if self.pretrain_dataset is not None:
            info["pretrain_dataset"] = self.pretrain_dataset
        return info


def _weights_in(folder: Path) -> Path | None:
    """The weights file a run directory or checkpoint directory stands for, or None."""
    for candidate in (folder / "checkpoints" / "last.ckpt", folder / "last.ckpt"):
        if candidate.is_file():
            return candidate
    if (folder / "backbone.safetensors").is_file():
        return folder / "backbone.safetensors"
    checkpoints = [
        path
        for directory in (folder, folder / "checkpoints")
        if directory.is_dir()
        for path in directory.glob("*.ckpt")
        if path.is_file()
    ]
    if not checkpoints:
        return None
    newest = max(checkpoints, key=lambda path: path.stat().st_mtime_ns)
    if len(checkpoints) > 1:
        log.info("%s holds %d checkpoints: using the newest, %s", folder, len(checkpoints), newest)
    return newest


def _dataset_in_run_config(run_dir: Path) -> str | None:
    """``data.dataset`` of the ``config.yaml`` a run directory holds, None when unknown."""
    try:
        dataset = OmegaConf.select(OmegaConf.load(run_dir / "config.yaml"), "data.dataset")
    except Exception:  # a missing or unreadable config says nothing
        return None
    return None if dataset is None else str(dataset)


def _is_pretraining_run(run_dir: Path) -> bool:
    """Evaluation runs (linear probes) keep checkpoints too; their config names a pretrained
    feature extractor instead of a method."""
    config = run_dir / "config.yaml"
    if (run_dir / "backbone.safetensors").is_file() or not config.is_file():
        return True
    try:
        return "method" in OmegaConf.load(config)
    except Exception:  # an unreadable config says nothing either way
        return True


def latest_run(outputs: Path = OUTPUTS) -> Path:
    """The pretraining run directory under ``outputs`` whose weights file was written last."""
    found = [
        path
        for pattern in ("**/checkpoints/last.ckpt", "**/backbone.safetensors")
        for path in outputs.glob(pattern)
        if path.is_file() and _is_pretraining_run(_run_dir_of(path))
    ]
    if not found:
        raise ConfigError(
            KEY,
            f"latest: no run under {outputs.resolve()} holds checkpoints/last.ckpt or "
            "backbone.safetensors",
            "run python main_pretrain.py first, or " + ALLOWED,
        )
    return _run_dir_of(max(found, key=lambda path: path.stat().st_mtime_ns))


def _run_dir_of(weights: Path) -> Path:
    return weights.parent.parent if weights.name == "last.ckpt" else weights.parent


def resolve_pretrained(value: str, key: str = KEY) -> Path:
    """The weights file (``.ckpt`` or ``.safetensors``) that ``value`` names."""
    path = latest_run() if value == "latest" else Path(value).expanduser()
    if not path.exists():
        raise ConfigError(key, f"{path} does not exist", ALLOWED)
    if path.is_dir():
        weights = _weights_in(path)
        if weights is None:
            raise ConfigError(
                key,
                f"{path} holds no checkpoint",
                "a directory with checkpoints/last.ckpt, *.ckpt or backbone.safetensors",
            )
        return weights
    if path.suffix not in (".ckpt", ".safetensors"):
        raise ConfigError(key, f"{path} is neither a .ckpt nor a .safetensors file", ALLOWED)
    return path


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _load_weights(module: nn.Module, state: dict[str, torch.Tensor], path: Path, key: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise ConfigError(
            key, f"{path}: the saved weights do not fit the saved config ({_first_line(error)})"
        ) from error


def _sub_state(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {name[len(prefix) :]: t for name, t in state_dict.items() if name.startswith(prefix)}


def _from_checkpoint(path: Path, with_projector: bool, key: str) -> PretrainedEncoder:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a foreign or truncated file can fail in many ways
        raise ConfigError(
            key, f"{path} is not a readable PyTorch checkpoint ({_first_line(error)})"
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(key, f"{path} is not a Lightning checkpoint: it has no state_dict")
    saved = (checkpoint.get("hyper_parameters") or {}).get("cfg")
    if not isinstance(saved, dict) or "backbone" not in saved:
        raise ConfigError(
            key,
            f"{path} was not written by hyperssl's main_pretrain.py: "
            "its hyper_parameters hold no pretraining cfg",
            "a checkpoint of main_pretrain.py, or its run directory",
        )
    cfg = OmegaConf.create(saved)
    image_size = pretrain_crop_size(cfg)
    state_dict = checkpoint["state_dict"]
    backbone = backbone_from_config(cfg, image_size)
    _load_weights(backbone, _sub_state(state_dict, "backbone."), path, key)
    projector = None
    if with_projector:
        projector = _projector_of(cfg, state_dict, path, key)
    return PretrainedEncoder(
        backbone=backbone.eval(),
        projector=projector,
        source=path,
        image_size=image_size,
        backbone_cfg=OmegaConf.to_container(cfg.backbone, resolve=True),
        pretrain_cfg=cfg,
        pretrain_dataset=OmegaConf.select(cfg, "data.dataset"),
    )


def _projector_of(
    cfg: DictConfig, state_dict: dict[str, torch.Tensor], path: Path, key: str
) -> nn.Module:
    """The method's own projector (each method builds it its way), with the saved weights."""
    from hyperssl.methods import create_method

    weights = _sub_state(state_dict, "projector.")
    if not weights:
        raise ConfigError(
            key, f"{path} has no projector weights", "feature_type backbone for this checkpoint"
        )
    projector = getattr(create_method(cfg), "projector", None)
    if projector is None:
        raise ConfigError(key, f"method {cfg.method.name!r} has no projector")
    _load_weights(projector, weights, path, key)
    return projector.eval()


def _from_safetensors(path: Path, with_projector: bool, key: str) -> PretrainedEncoder:
    from safetensors import safe_open
    from safetensors.torch import load_file

    if with_projector:
        raise ConfigError(
            key,
            f"{path} holds the backbone only, not the projector",
            "a .ckpt or run directory for feature_type projector",
        )
    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
        state = load_file(str(path))
    except Exception as error:  # safetensors raises its own error types
        raise ConfigError(
            key, f"{path} is not a readable safetensors file ({_first_line(error)})"
        ) from error
    backbone_cfg, image_size = _backbone_metadata(metadata, path, key)
    backbone = backbone_from_config(OmegaConf.create({"backbone": backbone_cfg}), image_size)
    _check_tensor_kinds(backbone, state, path, key)
    _load_weights(backbone, state, path, key)
    return PretrainedEncoder(
        backbone=backbone.eval(),
        projector=None,
        source=path,
        image_size=image_size,
        backbone_cfg=backbone_cfg,
        pretrain_cfg=None,
        pretrain_dataset=_dataset_in_run_config(path.parent),
    )


def _backbone_metadata(
    metadata: dict[str, str], path: Path, key: str
) -> tuple[dict[str, Any], int]:
    """The backbone config and crop size that main_pretrain.py writes into backbone.safetensors'
    metadata, checked as a pretraining config's backbone is (name, keys, types, values) before
    anything is built from them."""
    if "backbone" not in metadata or "image_size" not in metadata:
        raise ConfigError(
            key,
            f"{path} has no backbone metadata: not written by hyperssl's main_pretrain.py",
            ALLOWED,
        )

    def malformed(problem: str) -> ConfigError:
        return ConfigError(key, f"{path} has malformed backbone metadata: {problem}")

    try:
        backbone_cfg = json.loads(metadata["backbone"])
    except json.JSONDecodeError as error:
        raise malformed(f"'backbone' is not JSON ({error})") from error
    if not (isinstance(backbone_cfg, dict) and isinstance(backbone_cfg.get("name"), str)):
        kind = type(backbone_cfg).__name__
        raise malformed(f"'backbone' is a JSON {kind}, not an object with a string 'name'")
    try:
        image_size = int(metadata["image_size"])
    except ValueError:
        image_size = 0
    if not 1 <= image_size <= MAX_IMAGE_SIZE:
        raise malformed(
            f"'image_size' is {metadata['image_size'][:20]!r}, not an integer in "
            f"[1, {MAX_IMAGE_SIZE}]"
        )
    try:
        schema = BACKBONES.validate(backbone_cfg["name"], backbone_cfg, None, "backbone")
    except ConfigError as error:
        raise malformed(str(error)) from error
    return dataclasses.asdict(schema), image_size  # keys left out get the schema's defaults


def _tensor_kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "boolean"
    if dtype.is_complex:
        return "complex"
    return "floating-point" if dtype.is_floating_point else "integer"


def _check_tensor_kinds(
    module: nn.Module, state: dict[str, torch.Tensor], path: Path, key: str
) -> None:
    """Saved tensors of the module's kinds: ``load_state_dict`` would silently cast integers or
    booleans into weights (another floating-point precision, as bf16 training saves, is fine)."""
    expected = module.state_dict()
    for name, tensor in state.items():
        if name in expected and _tensor_kind(tensor.dtype) != _tensor_kind(expected[name].dtype):
            raise ConfigError(
                key,
                f"{path}: {name} is {tensor.dtype}, but the backbone's {name} is "
                f"{_tensor_kind(expected[name].dtype)}",
                f"{_tensor_kind(expected[name].dtype)} tensors",
            )


def load_pretrained(value: str, with_projector: bool = False, key: str = KEY) -> PretrainedEncoder:
    """Resolve ``value`` (see the module docstring) and load the encoder it names."""
    run_dir = latest_run() if value == "latest" else None
    path = resolve_pretrained(value if run_dir is None else str(run_dir), key)
    if path.suffix == ".safetensors":
        encoder = _from_safetensors(path, with_projector, key)
    else:
        encoder = _from_checkpoint(path, with_projector, key)
    dataset = encoder.pretrain_dataset or "an unknown data set"
    if run_dir is None:
        log.info("pretrained encoder: %s (pretrained on %s)", path, dataset)
    else:
        encoder.latest_run = run_dir.resolve()
        log.info(
            "%s=latest: the newest pretraining run under %s is %s, pretrained on %s (%s)",
            key,
            OUTPUTS,
            encoder.latest_run,
            dataset,
            path.name,
        )
    return encoder
