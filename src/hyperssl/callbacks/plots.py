"""Pictures of the final embeddings, written when training ends.

``embedding_map.png``: t-SNE (or UMAP) of up to ``max_points`` validation embeddings coloured by
class (named as the data set names them); ``angle_histograms.png``: positive- and negative-pair
angles. Each says which run, which space (projector output or backbone features) and which epoch
it shows. Both go to the run directory and, when the run logs to TensorBoard or wandb, to the
logger as well.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch.nn.functional as F
from matplotlib.figure import Figure

from hyperssl.callbacks.embeddings import (
    class_names,
    embed,
    embedding_space,
    validation_images,
)
from hyperssl.callbacks.sphere_metrics import HypersphereMetrics
from hyperssl.eval.plots import (
    angle_histogram_figure,
    embedding_map_figure,
    reduce_to_2d,
    save_figure,
)

log = logging.getLogger(__name__)


def log_figure(trainer: pl.Trainer, tag: str, figure: Figure, path: Path) -> None:
    """Send a figure to the run's TensorBoard or wandb logger (the CSV logger takes none)."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_figure(tag, figure, global_step=trainer.global_step, close=False)
        elif isinstance(logger, WandbLogger):
            logger.log_image(key=tag, images=[str(path)])


def describe_run(
    pl_module: pl.LightningModule, trainer: pl.Trainer, run_dir: Path, space: str
) -> list[str]:
    """Which run a picture shows (method, geometry, heads, data set and its directory), which
    space (``space``) and after how many epochs, one line each."""
    lines = []
    cfg = getattr(pl_module, "cfg", None)
    if cfg is not None:
        heads = ", ".join(cfg.get("heads") or []) or "none"
        method, geometry, dataset = cfg.method.name, cfg.geometry.name, cfg.data.dataset
        lines.append(f"{method}, {geometry} geometry, heads: {heads}, on {dataset}")
    epochs, steps = trainer.current_epoch, trainer.global_step
    lines.append(f"{space} after {_count(epochs, 'epoch')} ({_count(steps, 'step')})")
    lines.append(f"run: {_readable(run_dir)}")
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _readable(path: Path) -> str:
    """``path`` relative to the working directory when under it (multirun/..., outputs/...)."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class EmbeddingPlots(pl.Callback):
    def __init__(
        self,
        run_dir: Path,
        embedding_map: str = "tsne",
        max_points: int = 500,
        num_pairs: int = 256,
        seed: int = 0,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.embedding_map = embedding_map
        self.max_points = max_points
        self.pairs = HypersphereMetrics(num_samples=num_pairs, seed=seed)
        self.seed = seed

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        sample = validation_images(datamodule, self.max_points)
        if sample is None:
            log.info("no validation images: no embedding plots")
            return
        images, labels = sample
        _, embeddings = embed(pl_module, images)
        space = f"{embeddings.shape[1]}-d {embedding_space(pl_module)}"
        details = describe_run(pl_module, trainer, self.run_dir, space)
        points = reduce_to_2d(F.normalize(embeddings, dim=1).numpy(), self.embedding_map, self.seed)
        name = "t-SNE" if self.embedding_map == "tsne" else "UMAP"
        figure = embedding_map_figure(
            points,
            labels.numpy(),
            f"{name} of {len(labels)} validation embeddings",
            class_names(datamodule),
            details,
        )
        self._write(trainer, "embedding_map", figure)

        positive, negative = self.pairs.angles(pl_module, datamodule)
        figure = angle_histogram_figure(positive.numpy(), negative.numpy(), details=details)
        self._write(trainer, "angle_histograms", figure)

    def _write(self, trainer: pl.Trainer, name: str, figure: Figure) -> None:
        path = save_figure(figure, self.run_dir / f"{name}.png")
        log_figure(trainer, f"plots/{name}", figure, path)
