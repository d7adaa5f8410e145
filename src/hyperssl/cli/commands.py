"""The three entry points, as the console commands ``hyperssl-pretrain``, ``hyperssl-linear`` and
``hyperssl-knn`` that the package installs, and as the checkout's ``main_*.py``, which call them.

Each reads the configs packaged in :mod:`hyperssl.configs`; Hydra's ``--config-dir DIR`` adds a
folder of the user's own presets (``--config-name`` picks one), and every other argument is a
Hydra override, as documented in the README.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from hyperssl.cli.errors import reporting_bad_input, run_reporting_bad_input
from hyperssl.cli.gcl_flags import translate_gcl_flags
from hyperssl.config import register_configs

CONFIGS = "pkg://hyperssl.configs"

register_configs()


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="pretrain")
@reporting_bad_input
def _pretrain(cfg: DictConfig) -> float | None:
    # Imported here, after Hydra has composed the config: a typo fails in a second, before
    # torch and Lightning are loaded.
    from hyperssl.cli import pretrain

    # The value Hydra's sweepers (e.g. Optuna) optimise: the run's final k-NN top-1.
    return pretrain.run(cfg).get("knn_top1")


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="linear")
@reporting_bad_input
def _linear(cfg: DictConfig) -> None:
    from hyperssl.cli import linear

    linear.run(cfg)


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="knn")
@reporting_bad_input
def _knn(cfg: DictConfig) -> None:
    from hyperssl.cli import knn

    knn.run(cfg)


def _knn_with_gcl_flags() -> None:
    """Rewrite GCL's flags (``--dataset cifar100 --k 1 10 ...``) into Hydra overrides, then let
    Hydra parse the command line."""
    sys.argv[1:] = translate_gcl_flags(sys.argv[1:])
    _knn()


def pretrain() -> None:
    """``hyperssl-pretrain [group=option ...] [key=value ...]``: pretrain an encoder."""
    run_reporting_bad_input(_pretrain)


def linear() -> None:
    """``hyperssl-linear [key=value ...]``: linear evaluation of a pretrained backbone."""
    run_reporting_bad_input(_linear)


def knn() -> None:
    """``hyperssl-knn [key=value ...]``, or with GCL/solo-learn's flags: weighted k-NN
    evaluation of a pretrained encoder."""
    run_reporting_bad_input(_knn_with_gcl_flags)
