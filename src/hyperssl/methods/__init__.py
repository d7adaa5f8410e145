"""Methods by name: ``create_method(cfg)`` builds the LightningModule of ``cfg.method.name``;
each method is one file that registers itself in :data:`METHODS`."""

from omegaconf import DictConfig, OmegaConf, open_dict

from hyperssl.methods.base import BaseMethod, MethodConfig
from hyperssl.methods.registry import METHODS, register_method


def create_method(cfg: DictConfig) -> BaseMethod:
    """The method of ``cfg.method.name``, its keys laid over the registered schema (so a config
    saved before a key existed, in an older checkpoint, gets that key's default)."""
    name = cfg.method.name
    method_class = METHODS.get(name)
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.method = OmegaConf.merge(METHODS.config_node(name), cfg.method)
    return method_class(cfg)


__all__ = ["METHODS", "BaseMethod", "MethodConfig", "create_method", "register_method"]
