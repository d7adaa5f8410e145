"""Weighted k-NN evaluation of a pretrained encoder: ``python main_knn.py [key=value ...]``, or
with GCL/solo-learn's flags (``--dataset cifar100 --k 1 10 --temperature 0.2 ...``)."""

import sys

import hydra
from omegaconf import DictConfig

from hyperssl.cli import knn
from hyperssl.cli.errors import reporting_bad_input, run_reporting_bad_input
from hyperssl.cli.gcl_flags import translate_gcl_flags
from hyperssl.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="configs", config_name="knn")
@reporting_bad_input
def main(cfg: DictConfig) -> None:
    knn.run(cfg)


def main_with_gcl_flags() -> None:
    """Rewrite GCL flags into Hydra overrides, then let Hydra parse the command line."""
    sys.argv[1:] = translate_gcl_flags(sys.argv[1:])
    main()


if __name__ == "__main__":
    run_reporting_bad_input(main_with_gcl_flags)
