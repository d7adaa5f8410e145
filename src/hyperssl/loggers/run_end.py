"""What happens to a run's loggers after training: its final results, then closing them.

Lightning finalizes the loggers when ``fit`` returns, but a run has results after that (the
final k-NN, the probe's accuracies), and Lightning never finishes a wandb run: a later job of
the same process (a Hydra sweep) would log into it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from pytorch_lightning.loggers import Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only


@rank_zero_only
def log_final_metrics(loggers: Sequence[Logger], metrics: Mapping[str, float], step: int) -> None:
    """Send a run's end results to every logger: wandb keeps them as the run's summary, the
    others as scalars at ``step`` (one more row of ``metrics.csv``)."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.summary.update(dict(metrics))
        else:
            logger.log_metrics(dict(metrics), step=step)
        logger.save()


def _close(loggers: Sequence[Logger], status: str) -> None:
    for logger in loggers:
        logger.finalize(status)
        if isinstance(logger, WandbLogger):
            logger.experiment.finish(exit_code=0 if status == "success" else 1)


@contextmanager
def closing_loggers(loggers: Sequence[Logger]) -> Iterator[None]:
    """Finalize the loggers when the block ends, as failed when it raises; a wandb run is
    finished, so that the next run of this process starts its own."""
    try:
        yield
    except BaseException:
        _close(loggers, "failed")
        raise
    _close(loggers, "success")
