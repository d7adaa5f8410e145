"""``main_pretrain.py``: validate, train, then leave a complete run directory behind."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from hyperssl.cli.artifacts import (
    check_inside_sweep_dir,
    checkpoint_to_resume,
    drop_further_ranks_log,
    is_global_rank_zero,
    record_hydra_files,
    save_backbone,
    write_summary,
)
from hyperssl.cli.run_claim import holding_run_dir
from hyperssl.cli.trainer import (
    build_trainer,
    check_accelerator_present,
    check_slurm_allocation,
    fit_until_stopped,
)
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.eval.features import extract_features
from hyperssl.eval.knn import weighted_knn
from hyperssl.loggers import closing_loggers, log_final_metrics
from hyperssl.methods import BaseMethod, create_method
from hyperssl.validation import validate_pretrain, warn_if_warmup_covers_the_run


def knn_of_backbone(
    model: BaseMethod, datamodule: PretrainDataModule, cfg: DictConfig
) -> dict[str, float]:
    """Weighted k-NN accuracy of the backbone's features: train split as memory, val as queries."""
    device = model.device
    train_feats, train_labels = extract_features(
        model.backbone, datamodule.train_eval_dataloader(), device, "k-NN train features"
    )
    val_feats, val_labels = extract_features(
        model.backbone, datamodule.val_dataloader(), device, "k-NN val features"
    )
    k = min(cfg.knn.k, len(train_feats))
    top1, top5 = weighted_knn(
        train_feats,
        train_labels,
        val_feats,
        val_labels,
        datamodule.num_classes,
        k,
        cfg.knn.temperature,
    )
    return {"knn_top1": top1, "knn_top5": top5, "knn_k": k, "knn_temperature": cfg.knn.temperature}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Pretrain as configured; returns (and writes) the run's summary. The run directory is
    claimed for the run's life (:mod:`hyperssl.cli.run_claim`) by the first process."""
    validate_pretrain(cfg)
    check_accelerator_present(cfg.trainer)
    check_slurm_allocation(cfg.trainer)
    drop_further_ranks_log()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    check_inside_sweep_dir(run_dir)
    with holding_run_dir(run_dir) if is_global_rank_zero() else contextlib.nullcontext():
        return _train(cfg, run_dir)


def _train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    resume_from = checkpoint_to_resume(cfg.resume, run_dir, cfg)
    warn_if_warmup_covers_the_run(cfg)
    if is_global_rank_zero():
        record_hydra_files(run_dir, cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = PretrainDataModule(cfg.data, cfg.augmentations, cfg.optimizer.batch_size, cfg.seed)
    datamodule.prepare_data()  # downloads only when data.download=true
    datamodule.setup("fit")
    model = create_method(cfg)
    model.refuse_single_sample_batch_norm()
    trainer = build_trainer(cfg, run_dir, datamodule.has_validation, resume_from)
    with closing_loggers(trainer.loggers):
        OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)

        start = time.perf_counter()
        fit_until_stopped(trainer, model, datamodule=datamodule, ckpt_path=resume_from)
        train_seconds = time.perf_counter() - start

        summary: dict[str, Any] = {
            "method": cfg.method.name,
            "geometry": cfg.geometry.name,
            "heads": list(cfg.heads),
            "dataset": cfg.data.dataset,
            "epochs": trainer.current_epoch,
            "global_step": trainer.global_step,
            "train_seconds": round(train_seconds, 2),
            "resumed_from": str(resume_from) if resume_from else None,
        }
        summary |= {
            name: value.item()
            for name, value in trainer.callback_metrics.items()
            if isinstance(value, torch.Tensor) and value.numel() == 1
        }
        if trainer.is_global_zero:
            save_backbone(model.backbone, run_dir / "backbone.safetensors", cfg)
            if cfg.knn.enabled and datamodule.has_validation:
                knn = knn_of_backbone(model, datamodule, cfg)
                summary |= knn
                scores = {name: knn[name] for name in ("knn_top1", "knn_top5")}
                log_final_metrics(trainer.loggers, scores, trainer.global_step)
            write_summary(run_dir / "summary.json", summary)
            knn_line = f"k-NN top-1 {summary['knn_top1']:.2f}%  " if "knn_top1" in summary else ""
            print(f"{knn_line}run directory: {run_dir}")
    return summary
