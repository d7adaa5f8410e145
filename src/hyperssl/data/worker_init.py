"""What every DataLoader worker process does first: leave the stop signals to the main process,
then seed itself as Lightning would."""

from __future__ import annotations

import os
import signal

from lightning_fabric.utilities.seed import pl_worker_init_function

from hyperssl.callbacks.stop_on_signal import STOP_SIGNALS


def init_data_worker(worker_id: int) -> None:
    """Ignore SIGTERM, SIGINT, SIGUSR1 and SIGUSR2, then seed as Lightning's own worker init
    does (``pl_worker_init_function``, which Lightning adds only to loaders without one) when
    ``seed_everything(workers=True)`` asked for it.

    SLURM signals every process of a job, and Ctrl-C the terminal's whole process group: a worker
    that inherited the main process's handlers would act on the signal too (save, requeue), and
    one with the default ones would die, which ends the main process with an error instead of its
    checkpoint. The main process stops at a step boundary and shuts its workers down itself.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    if int(os.environ.get("PL_SEED_WORKERS", 0)):
        pl_worker_init_function(worker_id)
