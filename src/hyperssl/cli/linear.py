"""``main_linear.py``: train a linear classifier on a pretrained backbone; top-1/top-5 to summary.

Three ways, chosen by ``linear.*``:

- precomputed features (frozen backbone, ``linear.augment=false``, ``linear.precompute_features``):
  the backbone runs once over the data (features cached on disk), then the head trains on them;
- frozen: the backbone (eval mode, no gradients) runs on augmented images every epoch;
- ``finetune=true``: backbone (train mode, ``linear.backbone_lr``) and head train together
  (solo-learn's spelling).

A NaN or inf loss raises :class:`~hyperssl.errors.NonFiniteLossError` before any summary is
written; ``main_linear.py`` turns it into one line on stderr and exit status 3. A stop signal
(SIGTERM, SIGINT, SIGUSR1, SIGUSR2: a SLURM pre-emption or time limit) saves
``checkpoints/interrupted.ckpt`` and exits 75; ``resume=auto`` continues the run directory from
its newest checkpoint to the weights an uninterrupted probe ends with, as pretraining does.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch import nn

from hyperssl.cli.artifacts import (
    check_inside_sweep_dir,
    continue_in_place,
    ensure_fresh_run_dir,
    is_global_rank_zero,
    read_checkpoint,
    record_hydra_files,
    write_summary,
)
from hyperssl.cli.checkpoints import load_pretrained
from hyperssl.cli.held_logs import logs_held_until_success
from hyperssl.cli.run_claim import holding_run_dir
from hyperssl.cli.trainer import (
    build_trainer,
    check_accelerator_present,
    check_slurm_allocation,
    fit_until_stopped,
)
from hyperssl.data.augment import build_pipeline
from hyperssl.errors import ConfigError
from hyperssl.eval.data import (
    backbone_features,
    image_loader,
    load_eval_data,
    resolve_device,
    split_seed_of,
)
from hyperssl.eval.feature_cache import FeatureCache
from hyperssl.eval.linear import LinearProbe, feature_loader
from hyperssl.eval.schema import validate_linear
from hyperssl.loggers import closing_loggers, log_final_metrics
from hyperssl.validation import warn_if_warmup_covers_the_run

log = logging.getLogger(__name__)


def probe_mode(cfg: DictConfig) -> str:
    """``precomputed``, ``frozen`` or ``finetune``."""
    if cfg.finetune:
        return "finetune"
    if not cfg.linear.augment and cfg.linear.precompute_features:
        return "precomputed"
    return "frozen"


def _device_name(cfg: DictConfig) -> str:
    accelerator = str(cfg.trainer.accelerator)
    return "cpu" if accelerator == "cpu" else "auto"


def _is_probe_checkpoint(path: Path) -> None:
    """``resume=auto``'s check before anything is loaded: a readable checkpoint of a probe."""
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict) or "pretrained" not in checkpoint:
        raise ConfigError("resume", f"{path} is not a hyperssl linear-probe checkpoint")


def check_same_probe(path: Path, probe: LinearProbe) -> None:
    """The probe in ``path`` was trained on this probe's encoder weights (``probe.pretrained``),
    with its parameters (``finetune`` and the number of classes included):
    ``pretrained_feature_extractor=latest`` may name a newer pretraining run by the time a
    requeued probe starts again."""
    checkpoint = read_checkpoint(path)
    theirs, ours = checkpoint["pretrained"], probe.pretrained
    if theirs != ours:
        raise ConfigError(
            "resume",
            f"{path} is a probe of {theirs}, this run's encoder is {ours}",
            f"pretrained_feature_extractor={theirs}, or a new run directory",
        )
    shapes = {name: tuple(t.shape) for name, t in checkpoint.get("state_dict", {}).items()}
    expected = {name: tuple(t.shape) for name, t in probe.state_dict().items()}
    if shapes != expected:
        raise ConfigError(
            "resume",
            f"{path} holds another probe's parameters (finetune, data set or classes differ)",
            "the settings that run was started with, or a new run directory",
        )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train and evaluate the probe as configured; returns (and writes) the run's summary. The
    run directory is claimed for the run's life (:mod:`hyperssl.cli.run_claim`)."""
    validate_linear(cfg)
    check_accelerator_present(cfg.trainer)
    check_slurm_allocation(cfg.trainer)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    check_inside_sweep_dir(run_dir)
    # Further DDP processes start in the same run directory: the first one checks and claims it.
    with holding_run_dir(run_dir) if is_global_rank_zero() else contextlib.nullcontext():
        return _probe(cfg, run_dir)


def _probe(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    resume_from = None
    if cfg.resume == "auto":
        resume_from = continue_in_place(run_dir, _is_probe_checkpoint)
    elif is_global_rank_zero():
        ensure_fresh_run_dir(run_dir)
    if is_global_rank_zero():
        record_hydra_files(run_dir, cfg)
    warn_if_warmup_covers_the_run(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    with logs_held_until_success():
        encoder = load_pretrained(cfg.pretrained_feature_extractor)
        if encoder.image_size != cfg.data.image_size:
            log.warning(
                "the backbone was pretrained on %d px crops; data.image_size is %d",
                encoder.image_size,
                cfg.data.image_size,
            )
        data = load_eval_data(cfg.data, split_seed_of(encoder, cfg))
        data.require_val()
    mode = probe_mode(cfg)
    batch_size = cfg.optimizer.batch_size
    num_features = encoder.backbone.num_features
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)

    start = time.perf_counter()
    if mode == "precomputed":
        cache = FeatureCache(cfg.feature_cache.dir, cfg.feature_cache.enabled)
        device = resolve_device(_device_name(cfg))
        train_x, train_y = backbone_features(encoder, data, "train", cache, device, batch_size)
        val_x, val_y = backbone_features(encoder, data, "val", cache, device, batch_size)
        train_loader = feature_loader(train_x, train_y, batch_size, shuffle=True, seed=cfg.seed)
        val_loader = feature_loader(val_x, val_y, batch_size)
        encoder_module: nn.Module = nn.Identity()
    else:
        if cfg.linear.augment:
            augmentation = copy.deepcopy(cfg.linear.augmentation)
            augmentation.crop_size = cfg.data.image_size
            train_transform = build_pipeline(augmentation, cfg.data.mean, cfg.data.std)
        else:
            train_transform = data.eval_transform()
        workers = cfg.data.num_workers
        train_loader = image_loader(
            data.train, train_transform, batch_size, workers, shuffle=True, seed=cfg.seed
        )
        val_loader = image_loader(data.val, data.eval_transform(), batch_size, workers)
        encoder_module = encoder.backbone
    feature_seconds = time.perf_counter() - start

    # Re-seeded here so that the head starts the same whichever path extracted features before.
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    probe = LinearProbe(
        encoder_module,
        num_features,
        data.num_classes,
        cfg.optimizer,
        cfg.scheduler,
        finetune=mode == "finetune",
        backbone_lr=cfg.linear.backbone_lr,
        nan_guard=cfg.nan_guard,
        pretrained=str(encoder.source.resolve()),
    )
    if resume_from is not None:
        check_same_probe(resume_from, probe)
    if mode != "finetune":
        # The frozen encoder is in eval mode on purpose; Lightning warns about any such module.
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    trainer = build_trainer(cfg, run_dir, has_validation=True, resume_from=resume_from)
    # A sweep's next job must not log into this job's wandb run: closed here, failed or not.
    with closing_loggers(trainer.loggers):
        start = time.perf_counter()
        fit_until_stopped(
            trainer,
            probe,
            train_dataloaders=train_loader,
            val_dataloaders=val_loader,
            ckpt_path=resume_from,
        )
        train_seconds = time.perf_counter() - start
        final = trainer.validate(probe, dataloaders=val_loader, verbose=False)[0]

        summary: dict[str, Any] = {
            **encoder.describe(),
            "dataset": cfg.data.dataset,
            "mode": mode,
            "epochs": trainer.current_epoch,
            "global_step": trainer.global_step,
            "feature_seconds": round(feature_seconds, 2),
            "train_seconds": round(train_seconds, 2),
            "resumed_from": str(resume_from) if resume_from else None,
            "linear_top1": float(final["val/acc1"]),
            "linear_top5": float(final["val/acc5"]),
            "linear_val_loss": float(final["val/loss"]),
        }
        log_final_metrics(
            trainer.loggers,
            {name: summary[name] for name in ("linear_top1", "linear_top5", "linear_val_loss")},
            trainer.global_step,
        )
    if trainer.is_global_zero:
        write_summary(run_dir / "summary.json", summary)
        print(
            f"linear top-1 {summary['linear_top1']:.2f}%  top-5 {summary['linear_top5']:.2f}%  "
            f"({mode})  run directory: {run_dir}"
        )
    return summary
