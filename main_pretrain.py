"""Pretrain an encoder: ``python main_pretrain.py [group=option ...] [key=value ...]``."""

import hydra
from omegaconf import DictConfig

from hyperssl.cli.errors import reporting_bad_input, run_reporting_bad_input
from hyperssl.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="configs", config_name="pretrain")
@reporting_bad_input
def main(cfg: DictConfig) -> float | None:
    # Imported here, after Hydra has composed the config: a typo fails in a second, before
    # torch and Lightning are loaded.
    from hyperssl.cli import pretrain

    # The value Hydra's sweepers (e.g. Optuna) optimise: the run's final k-NN top-1.
    return pretrain.run(cfg).get("knn_top1")


if __name__ == "__main__":
    run_reporting_bad_input(main)
