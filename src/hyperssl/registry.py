"""Registries of parts: each kind of part (method, head, geometry, backbone, data set, optimizer,
scheduler) has one, filled by a decorator in the part's own file, in the style of timm's
``@register_model``::

    @dataclass
    class SimCLRConfig(MethodConfig):
        temperature: float = 0.2

    @register_method("simclr", SimCLRConfig)
    class SimCLR(BaseMethod): ...

The decorator records the name with the part (a class or a factory) and its schema, the dataclass
of the option's keys and their defaults. Everything else reads the registry: Hydra's ConfigStore
(``method=simclr`` selects the schema's defaults), validation of names, keys and values, the
"allowed:" lists of error messages, the README's options table and the tests. A registry imports
every module of its package the first time it is read, so a new part is one new file.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from omegaconf import DictConfig, OmegaConf

from hyperssl.errors import ConfigError

T = TypeVar("T")


class PartConfig:
    """Base of every part's schema. ``validate`` checks what a type cannot express (ranges,
    names, rules that read other groups) and raises :class:`ConfigError` naming ``key.<field>``.
    """

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        """Check this part's values; ``cfg`` is the whole composed config (None when the part is
        built on its own), ``key`` the part's path in it."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered part: the name users type, the class or factory, its schema."""

    name: str
    target: T
    schema: type


class Registry(Generic[T]):
    """Parts of one kind by name.

    kind:    what a part is called in messages ("method", "head", "data set").
    group:   the Hydra config group that selects it (``method=simclr``).
    package: the package whose modules register the parts (all imported on first read).
    key:     the config key that names the choice in errors (``method``, ``backbone.name``).
    multi:   options of a multi-select group keep their keys under their name
             (``heads=[mhe]`` gives ``heads.mhe.*``).
    name_field: the schema's field that holds the selected name (``data.dataset``), if any.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        package: str,
        key: str | None = None,
        multi: bool = False,
        name_field: str = "name",
    ) -> None:
        self.kind, self.group, self.package = kind, group, package
        self.key = key or f"{group}.{name_field}"
        self.multi, self.name_field = multi, name_field
        self._entries: dict[str, Entry[T]] = {}
        self._discovered = False

    def register(self, name: str, schema: type) -> Callable[[T], T]:
        """Decorator: register the decorated class or factory as ``name`` with ``schema``."""
        if not dataclasses.is_dataclass(schema):
            raise TypeError(f"{self.kind} {name!r}: the schema {schema!r} is not a dataclass")

        def decorator(target: T) -> T:
            if name in self._entries and self._entries[name].target is not target:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, target, schema)
            return target

        return decorator

    def _discover(self) -> None:
        """Import every module of the package (each registers its parts as it is imported)."""
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__, f"{self.package}."):
            importlib.import_module(module.name)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        self._discover()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter([self._entries[name] for name in self.names()])

    def entry(self, name: str, key: str | None = None) -> Entry[T]:
        """The entry of ``name``; an unknown name is a :class:`ConfigError` listing the names."""
        if name not in self:
            raise ConfigError(
                key or self.key, f"unknown {self.kind} {name!r}", ", ".join(self.names())
            )
        return self._entries[name]

    def get(self, name: str, key: str | None = None) -> T:
        """The class or factory registered as ``name``."""
        return self.entry(name, key).target

    def schema(self, name: str, key: str | None = None) -> type:
        return self.entry(name, key).schema

    def config_node(self, name: str) -> DictConfig:
        """The option's node for Hydra's ConfigStore: the schema's defaults, with its name field
        (when the schema has one) set to the registered name."""
        schema = self.schema(name)
        node = OmegaConf.structured(schema)
        if self.name_field in {field.name for field in dataclasses.fields(schema)}:
            node[self.name_field] = name
        return node

    def store(self, store: Any) -> None:
        """Add every option to Hydra's ConfigStore under this registry's group."""
        for name in self.names():
            node = self.config_node(name)
            store.store(group=self.group, name=name, node={name: node} if self.multi else node)

    def typed(self, name: str, values: Any, key: str) -> Any:
        """``values`` merged onto the schema of ``name`` and turned into the schema's object;
        an unknown key or a wrong type is a :class:`ConfigError` naming ``key.<field>``."""
        from omegaconf.errors import ConfigKeyError, ValidationError

        schema = self.schema(name)
        if isinstance(values, DictConfig):
            # A composed node may be typed by another option's schema (``backbone.name=vgg11``
            # under ``backbone=convnet4``): OmegaConf merges only onto a subclass of its type.
            values = OmegaConf.to_container(values, resolve=True)
        try:
            merged = OmegaConf.merge(self.config_node(name), values or {})
        except ConfigKeyError as error:
            owner = getattr(error, "object_type", None) or schema
            allowed = ", ".join(field.name for field in dataclasses.fields(owner))
            raise ConfigError(f"{key}.{error.full_key}", "unknown key", allowed) from error
        except ValidationError as error:
            problem = error.msg.splitlines()[0]
            raise ConfigError(f"{key}.{error.full_key}", problem) from error
        return OmegaConf.to_object(merged)

    def validate(self, name: str, values: Any, cfg: DictConfig | None, key: str) -> Any:
        """Check the name, keys, types and values of one selected part; returns its schema
        object (whose :meth:`PartConfig.validate` has run)."""
        config = self.typed(name, values, key)
        if isinstance(config, PartConfig):
            config.validate(cfg, key)
        return config
