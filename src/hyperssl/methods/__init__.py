"""Methods by name: ``create_method(cfg)`` builds the LightningModule of ``cfg.method.name``."""

from omegaconf import DictConfig

from hyperssl.errors import ConfigError
from hyperssl.methods.base import BaseMethod
from hyperssl.methods.simclr import SimCLR

METHODS: dict[str, type[BaseMethod]] = {"simclr": SimCLR}


def create_method(cfg: DictConfig) -> BaseMethod:
    name = cfg.method.name
    if name not in METHODS:
        raise ConfigError("method", f"unknown method {name!r}", ", ".join(sorted(METHODS)))
    return METHODS[name](cfg)


__all__ = ["METHODS", "BaseMethod", "create_method"]
