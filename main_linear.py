"""Linear evaluation of a pretrained backbone: ``python main_linear.py [key=value ...]``."""

import hydra
from omegaconf import DictConfig

from hyperssl.cli import linear
from hyperssl.cli.errors import reporting_bad_input, run_reporting_bad_input
from hyperssl.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="configs", config_name="linear")
@reporting_bad_input
def main(cfg: DictConfig) -> None:
    linear.run(cfg)


if __name__ == "__main__":
    run_reporting_bad_input(main)
