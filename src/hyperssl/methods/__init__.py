"""Methods by name: ``create_method(cfg)`` builds the LightningModule of ``cfg.method.name``."""

from omegaconf import DictConfig

from hyperssl.errors import ConfigError
from hyperssl.methods.base import BaseMethod
from hyperssl.methods.byol import BYOL
from hyperssl.methods.moco import MoCoV2Plus, MoCoV3
from hyperssl.methods.simclr import SimCLR
from hyperssl.methods.supervised import Supervised

METHODS: dict[str, type[BaseMethod]] = {
    "simclr": SimCLR,
    "mocov2plus": MoCoV2Plus,
    "mocov3": MoCoV3,
    "byol": BYOL,
    "supervised": Supervised,
}


def create_method(cfg: DictConfig) -> BaseMethod:
    name = cfg.method.name
    if name not in METHODS:
        raise ConfigError("method", f"unknown method {name!r}", ", ".join(sorted(METHODS)))
    return METHODS[name](cfg)


__all__ = ["METHODS", "BaseMethod", "create_method"]
