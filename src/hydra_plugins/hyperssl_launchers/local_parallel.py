"""``hydra/launcher=local_parallel``: the jobs of a sweep side by side on this machine.

Hydra's joblib launcher runs each job in one of joblib's loky worker processes. A process's start
method is the default of the processes it starts, and a loky worker's is "loky", whose ``Popen``
needs loky's own ``Process`` class: the DataLoader workers of a job would fail with
``'Process' object has no attribute 'env'`` (joblib/joblib#1104). This launcher is the joblib
launcher, with every job started from the platform's default start method, as a job on its own
would be. Its settings are the joblib launcher's (``n_jobs``, ``backend``, ...). The jobs that
failed are noted for the line per failed job that ends the sweep
(:func:`hyperssl.cli.errors.note_failed_jobs`): they ran in other processes.
"""

import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hyperssl.cli.errors import note_failed_jobs


@dataclass(frozen=True)
class InPlatformStartMethod:
    """A task that first restores the platform's default start method in its process (picklable,
    so that joblib can send it to its workers). No ``from __future__ import annotations`` in this
    module: Hydra executes it before registering it in ``sys.modules``, where dataclasses would
    look string annotations up."""

    task: TaskFunction

    def __call__(self, cfg: DictConfig) -> Any:
        multiprocessing.set_start_method(None, force=True)
        return self.task(cfg)


class LocalParallelLauncher(Launcher):
    """Hydra's joblib launcher, running each job with :class:`InPlatformStartMethod`."""

    def __init__(self, **joblib_settings: Any) -> None:
        # Imported here: the joblib launcher is an optional extra (hyperssl[sweeps]), and Hydra
        # imports this module at every start to find its plugins.
        from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

        self.joblib = JoblibLauncher(**joblib_settings)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.joblib.setup(
            hydra_context=hydra_context,
            task_function=InPlatformStartMethod(task_function),
            config=config,
        )

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        returns = self.joblib.launch(job_overrides, initial_job_idx)
        note_failed_jobs(returns)
        return returns
