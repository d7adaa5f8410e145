"""An entry point's config composed in-process with Hydra's compose API, as ``@hydra.main`` would
compose it from the command line: for building a method in one's own code (README, "Use it in
your own code"), and for the tests and the benchmarks, which run the entry points' ``run``
functions without a command line."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from hyperssl.config import register_configs

# The packaged configs (the checkout's top-level configs/ links here).
CONFIGS = Path(str(files("hyperssl.configs")))


def compose_config(
    config_name: str = "pretrain",
    overrides: Sequence[str] = (),
    config_dir: Path | str = CONFIGS,
    run_dir: Path | None = None,
) -> DictConfig:
    """``<config_dir>/<config_name>`` (pretrain, linear, knn, a preset's file, or a schema stored
    in Hydra's ConfigStore) composed with ``overrides``.

    With ``run_dir`` (created if missing), Hydra's runtime output dir is set to it, as a launched
    run's is, so that the entry points' ``run`` finds its run directory through ``HydraConfig``;
    the ``hydra`` node is then left out of the returned config, as ``@hydra.main`` leaves it out.
    """
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name, list(overrides), return_hydra_config=run_dir is not None)
    if run_dir is None:
        return cfg
    run_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg
