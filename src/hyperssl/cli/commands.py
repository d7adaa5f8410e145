"""The three entry points, as the console commands ``hyperssl-pretrain``, ``hyperssl-linear`` and
``hyperssl-knn`` that the package installs, and as the checkout's ``main_*.py``, which call them.

Each reads the configs packaged in :mod:`hyperssl.configs`; Hydra's ``--config-dir DIR`` adds a
folder of the user's own presets (``--config-name`` picks one), ``--config-path DIR`` replaces
the packaged folder (a relative DIR is read from the current folder), and every other argument
is a Hydra override, as documented in the README.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from omegaconf import DictConfig

# Modules, not names: this module's own pretrain, linear and knn are the console commands.
import hyperssl.cli.knn
import hyperssl.cli.linear
import hyperssl.cli.pretrain
from hyperssl.cli.errors import reporting_bad_input, run_reporting_bad_input
from hyperssl.cli.gcl_flags import translate_gcl_flags
from hyperssl.config import register_configs

# Hydra's name of the packaged configs (hyperssl.cli.compose.CONFIGS is their folder).
PACKAGED_CONFIGS = "pkg://hyperssl.configs"
CONFIG_PATH_FLAGS = ("--config-path", "-cp")

register_configs()


@hydra.main(version_base="1.3", config_path=PACKAGED_CONFIGS, config_name="pretrain")
@reporting_bad_input
def _pretrain(cfg: DictConfig) -> float | None:
    # The value Hydra's sweepers (e.g. Optuna) optimise: the run's final k-NN top-1.
    return hyperssl.cli.pretrain.run(cfg).get("knn_top1")


@hydra.main(version_base="1.3", config_path=PACKAGED_CONFIGS, config_name="linear")
@reporting_bad_input
def _linear(cfg: DictConfig) -> None:
    hyperssl.cli.linear.run(cfg)


@hydra.main(version_base="1.3", config_path=PACKAGED_CONFIGS, config_name="knn")
@reporting_bad_input
def _knn(cfg: DictConfig) -> None:
    hyperssl.cli.knn.run(cfg)


def _knn_with_gcl_flags() -> None:
    """Rewrite GCL's flags (``--dataset cifar100 --k 1 10 ...``) into Hydra overrides, then let
    Hydra parse the command line."""
    sys.argv[1:] = translate_gcl_flags(sys.argv[1:])
    _knn()


def config_path_from_current_folder(arguments: list[str]) -> list[str]:
    """``arguments`` with a relative ``--config-path``/``-cp`` made absolute from the current
    folder. Hydra reads a relative one against the package of the decorated function (here
    ``hyperssl.cli``), where no user's presets are; from ``main_*.py`` it read the checkout's
    root, where the README's commands run."""
    rewritten, pending = [], False
    for argument in arguments:
        flag, equals, value = argument.partition("=")
        if pending or (equals and flag in CONFIG_PATH_FLAGS):
            path = argument if pending else value
            if "://" not in path:
                path = str(Path(path).absolute())
            argument = path if pending else f"{flag}={path}"
        pending = argument in CONFIG_PATH_FLAGS
        rewritten.append(argument)
    return rewritten


def _from_current_folder(command: Callable[[], None]) -> None:
    sys.argv[1:] = config_path_from_current_folder(sys.argv[1:])
    run_reporting_bad_input(command)


def pretrain() -> None:
    """``hyperssl-pretrain [group=option ...] [key=value ...]``: pretrain an encoder."""
    _from_current_folder(_pretrain)


def linear() -> None:
    """``hyperssl-linear [key=value ...]``: linear evaluation of a pretrained backbone."""
    _from_current_folder(_linear)


def knn() -> None:
    """``hyperssl-knn [key=value ...]``, or with GCL/solo-learn's flags: weighted k-NN
    evaluation of a pretrained encoder."""
    _from_current_folder(_knn_with_gcl_flags)
