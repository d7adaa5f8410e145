"""Composing in one process many times: the options are stored in Hydra's ConfigStore once, and
again when a part is registered later or the store has lost them."""

import copy
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore

from hyperssl.backbones import BACKBONES
from hyperssl.backbones.registry import BackboneConfig
from hyperssl.cli.compose import compose_config


@dataclass
class LaterBackboneConfig(BackboneConfig):
    """A backbone's keys, under a schema of its own."""


def test_a_part_registered_after_a_composition_is_an_option_of_the_next(monkeypatch):
    assert compose_config("pretrain", ["backbone=convnet4"]).backbone.name == "convnet4"
    monkeypatch.setattr(BACKBONES, "_entries", dict(BACKBONES._entries))  # undone after
    BACKBONES.register("registered_later", LaterBackboneConfig)(lambda **kwargs: None)
    try:
        cfg = compose_config("pretrain", ["backbone=registered_later"])
    finally:
        ConfigStore.instance().repo["backbone"].pop("registered_later.yaml", None)
    assert cfg.backbone.name == "registered_later"


def test_options_the_store_lost_are_stored_again(monkeypatch):
    compose_config("pretrain")
    store = ConfigStore.instance().repo
    monkeypatch.delitem(store, "pretrain_schema.yaml")
    monkeypatch.setitem(store, "method", {})
    cfg = compose_config("pretrain", ["method=byol"])
    assert cfg.method.name == "byol" and "pretrain_schema.yaml" in store


def test_hydras_copies_of_the_store_are_the_store_and_compositions_leave_it_as_it_was():
    compose_config("pretrain")
    store = ConfigStore.instance()
    assert copy.deepcopy(store) is store
    changed = compose_config("pretrain", ["method=simclr", "method.temperature=0.5", "seed=7"])
    assert (changed.method.name, changed.method.temperature, changed.seed) == ("simclr", 0.5, 7)
    default = compose_config("pretrain", ["method=simclr"])
    assert default.method.temperature != 0.5 and default.seed == 5
