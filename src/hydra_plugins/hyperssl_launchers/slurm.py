"""Registers ``hydra/launcher=slurm``'s launcher (:mod:`._slurm`) with Hydra where the slurm
extra (``pip install "hyperssl[slurm]"``) is installed, and nothing elsewhere.

Hydra imports every module of the ``hydra_plugins`` namespace at each run and warns, in six
lines, about one that fails to import: without this module's guard, every run of a user who
installed hyperssl without the extra would print that warning. Choosing ``hydra/launcher=slurm``
there is one line naming the extra (:func:`hyperssl.cli.errors.missing_extra`).
"""

from hyperssl.extras import extra_is_missing

try:
    from hydra_plugins.hyperssl_launchers._slurm import QueueWatchingSlurmLauncher
except ModuleNotFoundError as missing:
    if not extra_is_missing(missing, "slurm"):
        raise
else:
    __all__ = ["QueueWatchingSlurmLauncher"]
