"""The generic registry: registration with a schema, discovery of a package's modules, names in
errors, the ConfigStore node and typed keys."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from omegaconf import MISSING

from hyperssl.errors import ConfigError, require
from hyperssl.registry import PartConfig, Registry


@dataclass
class WidgetConfig(PartConfig):
    name: str = MISSING
    size: int = 3

    def validate(self, cfg, key: str) -> None:
        require(self.size > 0, f"{key}.size", self.size, "> 0")


def widgets() -> Registry:
    # Discovery imports the modules of the package named here (the standard library's json,
    # whose modules register nothing), so only the parts registered below exist.
    registry = Registry("widget", "widget", "json")
    registry.register("round", WidgetConfig)(lambda: "round")
    registry.register("square", WidgetConfig)(lambda: "square")
    return registry


def test_names_are_sorted_and_an_unknown_name_lists_them():
    registry = widgets()
    assert registry.names() == ["round", "square"]
    with pytest.raises(ConfigError, match=r"^widget.name: unknown widget 'oval'; allowed: round, "):
        registry.get("oval")


def test_registering_a_second_part_under_a_taken_name_is_refused():
    registry = widgets()
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("round", WidgetConfig)(lambda: "another")


def test_a_schema_must_be_a_dataclass():
    with pytest.raises(TypeError, match="not a dataclass"):
        widgets().register("oval", dict)


def test_the_config_node_holds_the_defaults_and_the_registered_name():
    node = widgets().config_node("square")
    assert node == {"name": "square", "size": 3}


def test_a_multi_select_registry_stores_its_keys_under_the_name():
    stored = {}

    class Store:
        def store(self, group, name, node):
            stored[(group, name)] = node

    registry = Registry("widget", "widgets", "json", multi=True)
    registry.register("round", WidgetConfig)(object)
    registry.store(Store())
    assert list(stored) == [("widgets", "round")]
    assert stored[("widgets", "round")]["round"]["size"] == 3


def test_typed_values_name_the_unknown_key_and_list_the_schema_fields():
    with pytest.raises(ConfigError, match=r"^widget.sise: unknown key; allowed: name, size$"):
        widgets().typed("round", {"sise": 4}, "widget")


def test_typed_values_reject_a_wrong_type_naming_the_key():
    with pytest.raises(ConfigError, match=r"^widget.size: "):
        widgets().typed("round", {"size": "big"}, "widget")


def test_validate_runs_the_schema_rules():
    registry = widgets()
    assert registry.validate("round", {"size": 5}, None, "widget").size == 5
    with pytest.raises(ConfigError, match=r"^widget.size: got -1; allowed: > 0$"):
        registry.validate("round", {"size": -1}, None, "widget")


def test_discovery_imports_every_module_of_the_package(tmp_path, monkeypatch):
    package = tmp_path / "gadgets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "registry.py").write_text(
        "from hyperssl.registry import Registry\n"
        "GADGETS = Registry('gadget', 'gadget', 'gadgets')\n"
    )
    (package / "lever.py").write_text(
        "from dataclasses import dataclass\n"
        "from gadgets.registry import GADGETS\n"
        "@dataclass\nclass LeverConfig:\n    length: int = 2\n"
        "@GADGETS.register('lever', LeverConfig)\nclass Lever: ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from gadgets.registry import GADGETS

    assert GADGETS.names() == ["lever"]
    assert GADGETS.get("lever").__name__ == "Lever"
