"""Resume a run at the batch (and the random numbers) where its checkpoint left it."""

from __future__ import annotations

import warnings
from typing import Any

import pytorch_lightning as pl
from lightning_fabric.utilities.data import _set_sampler_epoch
from pytorch_lightning.callbacks import Callback

from hyperssl.random_states import capture_random_states, restore_random_states


class ResumeDataPosition(Callback):
    """A resumed run's training batches and random numbers continue as an uninterrupted run's.

    Lightning creates the train iterator of a resumed run before it sets the sampler's epoch, and
    does not skip what a checkpoint taken mid-epoch had consumed unless the DataLoader implements
    Lightning's stateful-loader protocol. So when training starts: the random states the checkpoint
    restored are set again (creating the iterator drew from them), the sampler gets its epoch and
    the iterator is created again, as at an epoch start (a multi-process loader reads its sampler
    then); mid-epoch, the batches already trained on are drawn and dropped (under DDP each rank
    drops its own), and the random states are set back to the checkpoint's, since an uninterrupted
    run draws nothing there. Hand-written: torchdata's StatefulDataLoader is not a dependency.

    Exact with worker processes too: their seeds come from the sampler's (seed, epoch) generator
    (:class:`~hyperssl.data.sampler.EpochSeededShuffle`), and the dropped batches pass through
    the same workers in the same order.
    """

    def __init__(self) -> None:
        self._restored: dict[str, Any] | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # After the checkpoint's module state (and random states) are restored, before the loop
        # creates the iterator.
        self._restored = capture_random_states() if trainer.ckpt_path else None
        # Lightning's warning that a mid-epoch resume replays the wrong batches: not so here.
        warnings.filterwarnings(
            "ignore", "You're resuming from a checkpoint that ended before the epoch ended"
        )

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._restored is None:
            return
        fit_loop = trainer.fit_loop
        fetcher = fit_loop._data_fetcher
        if fetcher is None or fit_loop._combined_loader is None:
            return
        restore_random_states(self._restored)
        for loader in fit_loop._combined_loader.flattened:
            _set_sampler_epoch(loader, trainer.current_epoch)
        iter(fetcher)
        if fit_loop.restarted_mid_epoch:
            for _ in range(fit_loop.epoch_loop.batch_progress.current.completed):
                next(fetcher.iterator)
            restore_random_states(self._restored)
