"""``main_knn.py``: weighted k-NN accuracy of a pretrained encoder for many settings at once.

Backbone features of the train and validation splits are extracted once (and cached on disk);
projector outputs are computed from them. Every combination of ``knn.feature_type``,
``knn.distance_function``, ``knn.k`` and ``knn.temperature`` is then scored from one neighbour
search per (feature type, distance). The table is printed and saved as ``knn.csv`` and
``knn.json``; ``summary.json`` and the loggers (a row of ``metrics.csv``) hold every
combination's top-1/top-5 as flat keys, and how each feature type's training features spread
(``<feature type>/uniformity``, ``/wasserstein_uniformity``, ``/rankme``; see
:func:`hyperssl.eval.metrics.spread_metrics`).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from hyperssl.cli.artifacts import ensure_fresh_run_dir, record_hydra_files, write_summary
from hyperssl.cli.checkpoints import load_pretrained
from hyperssl.cli.held_logs import logs_held_until_success
from hyperssl.errors import ConfigError
from hyperssl.eval.data import (
    apply_in_chunks,
    backbone_features,
    load_eval_data,
    resolve_device,
    split_seed_of,
)
from hyperssl.eval.feature_cache import FeatureCache
from hyperssl.eval.knn import knn_sweep
from hyperssl.eval.metrics import spread_metrics
from hyperssl.eval.schema import validate_knn
from hyperssl.loggers import build_loggers, closing_loggers, log_final_metrics

COLUMNS = ("feature_type", "distance", "k", "temperature", "top1", "top5")


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table (temperature '-' where the distance ignores it)."""
    header = ["feature", "distance", "k", "T", "top-1", "top-5"]
    cells = [
        [
            row["feature_type"],
            row["distance"],
            str(row["k"]),
            "-" if row["temperature"] is None else f"{row['temperature']:g}",
            f"{row['top1']:.2f}",
            f"{row['top5']:.2f}",
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    return "\n".join(
        "  ".join(text.rjust(width) for text, width in zip(line, widths, strict=True))
        for line in [header, *cells]
    )


def row_name(row: dict[str, Any]) -> str:
    temperature = "" if row["temperature"] is None else f"/T{row['temperature']:g}"
    return f"knn/{row['feature_type']}/{row['distance']}/k{row['k']}{temperature}"


def write_tables(rows: list[dict[str, Any]], run_dir: Path, about: dict[str, Any]) -> None:
    with open(run_dir / "knn.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (run_dir / "knn.json").write_text(json.dumps({**about, "results": rows}, indent=2) + "\n")


def spread_of_features(
    features: dict[str, tuple[torch.Tensor, torch.Tensor]], samples: int, seed: int
) -> dict[str, float]:
    """``<feature type>/<metric>`` of :func:`spread_metrics` on ``samples`` training features
    (all of them when there are fewer; the same seeded rows for every feature type)."""
    if samples == 0:
        return {}
    count = len(next(iter(features.values()))[0])
    rows = torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:samples]
    return {
        f"{feature_type}/{name}": value
        for feature_type, (train_f, _) in features.items()
        for name, value in spread_metrics(train_f[rows]).items()
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate as configured; returns (and writes) the run's summary."""
    validate_knn(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    ensure_fresh_run_dir(run_dir)
    record_hydra_files(run_dir, cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    feature_types = list(dict.fromkeys(cfg.knn.feature_type))
    with logs_held_until_success():
        encoder = load_pretrained(
            cfg.pretrained_feature_extractor, with_projector="projector" in feature_types
        )
        data = load_eval_data(cfg.data, split_seed_of(encoder, cfg))
        data.require_val()
        if max(cfg.knn.k) > len(data.train):
            raise ConfigError(
                "knn.k", f"{max(cfg.knn.k)} exceeds the {len(data.train)} training images"
            )
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    device = resolve_device(cfg.device)
    cache = FeatureCache(cfg.feature_cache.dir, cfg.feature_cache.enabled)
    start = time.perf_counter()
    train_x, train_y = backbone_features(encoder, data, "train", cache, device, cfg.batch_size)
    val_x, val_y = backbone_features(encoder, data, "val", cache, device, cfg.batch_size)
    features = {"backbone": (train_x, val_x)}
    if "projector" in feature_types:
        features["projector"] = (
            apply_in_chunks(encoder.projector, train_x, device),
            apply_in_chunks(encoder.projector, val_x, device),
        )
    feature_seconds = time.perf_counter() - start

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for feature_type in feature_types:
        train_f, val_f = (part.to(device) for part in features[feature_type])
        for distance in dict.fromkeys(cfg.knn.distance_function):
            sweep = knn_sweep(
                train_f,
                train_y,
                val_f,
                val_y,
                data.num_classes,
                list(cfg.knn.k),
                list(cfg.knn.temperature),
                distance,
                cfg.knn.test_chunk_size,
                cfg.knn.train_chunk_size,
            )
            rows += [{"feature_type": feature_type, **row} for row in sweep]
    knn_seconds = time.perf_counter() - start
    spread = spread_of_features(features, cfg.diagnostics_samples, cfg.seed)

    best = max(rows, key=lambda row: (row["top1"], row["top5"]))
    about = {
        **encoder.describe(),
        "dataset": cfg.data.dataset,
        "num_train": len(train_y),
        "num_val": len(val_y),
    }
    scores = {"knn_best_top1": best["top1"], "knn_best_top5": best["top5"]}
    for row in rows:
        scores[f"{row_name(row)}/top1"] = row["top1"]
        scores[f"{row_name(row)}/top5"] = row["top5"]
    scores |= spread
    summary: dict[str, Any] = {
        **about,
        "feature_seconds": round(feature_seconds, 2),
        "knn_seconds": round(knn_seconds, 2),
        **scores,
        "knn_best": row_name(best),
    }
    write_tables(rows, run_dir, about)
    write_summary(run_dir / "summary.json", summary)
    loggers = build_loggers(cfg, run_dir)
    with closing_loggers(loggers):
        log_final_metrics(loggers, scores, step=0)
    print(format_table(rows))
    for name, value in spread.items():
        print(f"{name}: {value:.4g}")
    print(f"run directory: {run_dir}")
    return summary
