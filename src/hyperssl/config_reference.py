"""The config reference: every config group, every option and every key with its type, default
and comment, as one Markdown page, made from what the code defines rather than written by hand.

Read from three places: the part registries (:data:`hyperssl.parts.PART_REGISTRIES`), each
option's key being a field of its schema; the entry points' schemas (``pretrain``, ``linear``,
``knn``, the dataclasses :func:`hyperssl.config.register_configs` stores in Hydra's ConfigStore),
with the defaults list of their YAML file; and the preset groups (``augmentations``,
``trainer``), whose options are YAML files under ``configs/<group>/`` and whose keys are the
pretraining schema's field of that name. The docs build writes it (``docs/gen_pages.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import re
import tokenize
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import MISSING, OmegaConf

from hyperssl.config import PretrainConfig
from hyperssl.eval.schema import KNNRunConfig, LinearConfig
from hyperssl.options_table import PRESET_GROUPS, preset_names
from hyperssl.parts import PART_REGISTRIES
from hyperssl.registry import Registry

# Entry point (its YAML file under configs/ and its console command) -> its schema.
ENTRY_POINTS: dict[str, tuple[str, type]] = {
    "pretrain": ("hyperssl-pretrain", PretrainConfig),
    "linear": ("hyperssl-linear", LinearConfig),
    "knn": ("hyperssl-knn", KNNRunConfig),
}
# A default longer than this is cut (with an ellipsis) to keep the tables readable.
MAX_DEFAULT_CHARS = 48
SPHINX_ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|exc|obj):`~?")


class Key(NamedTuple):
    """One row of a table: a dotted key, its annotated type, default and comment."""

    key: str
    type: str
    default: str
    comment: str


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, str):  # under `from __future__ import annotations`
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _value(value: Any) -> str:
    """A default as one would type it in an override (YAML spelling), cut when long."""
    if isinstance(value, str) and value == MISSING:
        return "required"
    text = _yaml(value)
    if len(text) > MAX_DEFAULT_CHARS:
        text = text[: MAX_DEFAULT_CHARS - 1] + "…"
    return f"`{text}`"


def _yaml(value: Any) -> str:
    """A value in YAML's flow style, on one line (OmegaConf's to_yaml is 100x slower)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_yaml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "''"
    return repr(value)


@functools.cache
def _comments(cls: type) -> dict[str, str]:
    """The comment of each field that ``cls`` itself declares: the comment at the end of its
    line, else the block of comment lines just above it."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    trailing: dict[int, str] = {}
    standalone: dict[int, str] = {}
    source = "".join(lines)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            text = token.string.lstrip("#").strip()
            is_alone = not lines[row - 1][:column].strip()
            (standalone if is_alone else trailing)[row] = text
    own = set(vars(cls).get("__annotations__", {}))
    comments = {}
    for row, line in enumerate(lines, start=1):
        match = re.match(r"\s+(\w+)\s*:", line)
        if not match or match.group(1) not in own or match.group(1) in comments:
            continue
        if row in trailing:
            comments[match.group(1)] = trailing[row]
            continue
        above = []
        while row - 1 - len(above) in standalone:
            above.insert(0, standalone[row - 1 - len(above)])
        comments[match.group(1)] = " ".join(above)
    return comments


def _field_comment(schema: type, name: str) -> str:
    for cls in schema.__mro__:
        if name in vars(cls).get("__annotations__", {}):
            return _comments(cls).get(name, "")
    return ""


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return MISSING


def schema_keys(
    schema: type, prefix: str, values: Any = None, skip: frozenset[str] = frozenset()
) -> Iterator[Key]:
    """The keys of ``schema`` under ``prefix``, nested dataclasses flattened into dotted keys;
    ``values`` (an instance) gives the defaults where a parent's factory changed them."""
    for field in dataclasses.fields(schema):
        if field.name in skip:
            continue
        value = getattr(values, field.name) if values is not None else _default(field)
        key = f"{prefix}.{field.name}" if prefix else field.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from schema_keys(type(value), key, value)
            continue
        comment = _field_comment(schema, field.name)
        yield Key(key, _type_name(field.type), _value(value), comment)


def _cell(text: str) -> str:
    # A pipe outside a code span would start a new column.
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def keys_table(keys: list[Key]) -> str:
    rows = ["| key | type | default | note |", "|---|---|---|---|"]
    for key in keys:
        rows.append(f"| `{key.key}` | `{key.type}` | {key.default} | {_cell(key.comment)} |")
    return "\n".join(rows)


def _summary(obj: Any) -> str:
    """The first paragraph of a class's own docstring (none for a dataclass's generated one)."""
    doc = vars(obj).get("__doc__") or ""
    if not doc or doc.startswith(f"{obj.__name__}("):
        return ""
    summary = inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")
    return SPHINX_ROLE.sub("`", summary)  # ":class:`X`" reads as "`X`" on the page


def _option_prefix(registry: Registry, name: str) -> str:
    return f"{registry.group}.{name}" if registry.multi else registry.group


def registry_section(registry: Registry) -> str:
    """A registry's group: one table of keys per registered option."""
    select = (
        f"`{registry.group}=[{registry.names()[0]},...]`"
        if registry.multi
        else f"`{registry.group}=<name>`"
    )
    lines = [
        f"## {registry.group} {{#{registry.group}}}",
        "",
        f"The {registry.kind} of a run, chosen by {select}; options: "
        + ", ".join(f"[`{name}`](#{registry.group}-{name})" for name in registry.names())
        + ".",
    ]
    if registry.multi:
        lines[-1] += f" Several may be chosen; each keeps its keys under `{registry.group}.<name>`."
    for entry in registry:
        node = registry.config_node(entry.name)
        instance = OmegaConf.to_object(node)
        choice = f"[{entry.name}]" if registry.multi else entry.name
        lines += ["", f"### {registry.group}={choice} {{#{registry.group}-{entry.name}}}", ""]
        summary = _summary(entry.schema)
        schema_line = f"Schema `{entry.schema.__module__}.{entry.schema.__qualname__}`."
        lines += [f"{summary} {schema_line}".strip(), ""]
        keys = list(schema_keys(entry.schema, _option_prefix(registry, entry.name), instance))
        lines.append(keys_table(keys))
    return "\n".join(lines)


def _preset_schema(group: str) -> type:
    """The schema of a preset group's keys: the pretraining schema's field (or its items)."""
    annotation = typing.get_type_hints(PretrainConfig)[group]
    return (typing.get_args(annotation) or (annotation,))[0]


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _leading_comment(path: Path) -> str:
    """The comment block a YAML file starts with, as one paragraph."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def preset_section(group: str, configs: Path) -> str:
    """A preset group: the keys of its schema, then what each preset file sets."""
    schema = _preset_schema(group)
    is_list = typing.get_origin(typing.get_type_hints(PretrainConfig)[group]) is list
    prefix = f"{group}.<i>" if is_list else group
    names = preset_names(configs, group)
    lines = [
        f"## {group} {{#{group}}}",
        "",
        f"A preset group: `{group}=<name>` loads `configs/{group}/<name>.yaml`, which only "
        f"chooses values of the keys below; options: "
        + ", ".join(f"[`{name}`](#{group}-{name})" for name in names)
        + ".",
    ]
    if is_list:
        lines[-1] += (
            f" A preset is a list of pipelines, each with the keys below under `{group}.<i>` "
            f"(`{group}.0.crop_size=...`)."
        )
    lines += ["", f"Schema `{schema.__module__}.{schema.__qualname__}`.", ""]
    lines.append(keys_table(list(schema_keys(schema, prefix))))
    defaults = dict((key, value) for key, _, value, _ in schema_keys(schema, ""))
    for name in names:
        path = configs / group / f"{name}.yaml"
        content = OmegaConf.to_container(OmegaConf.load(path))
        items = content if isinstance(content, list) else [content]
        lines += ["", f"### {group}={name} {{#{group}-{name}}}", ""]
        comment = _leading_comment(path)
        if comment:
            lines += [_cell(comment), ""]
        rows = ["| key | value | schema default |", "|---|---|---|"]
        for index, item in enumerate(items):
            for key, value in _flatten(item):
                full = f"{group}.{index}.{key}" if is_list else f"{group}.{key}"
                rows.append(f"| `{full}` | {_value(value)} | {defaults.get(key, '-')} |")
        lines.append("\n".join(rows))
    return "\n".join(lines)


def _defaults_list(path: Path) -> dict[str, Any]:
    """The groups an entry point's YAML chooses, with the option it chooses."""
    chosen = {}
    for item in OmegaConf.to_container(OmegaConf.load(path)).get("defaults", []):
        if isinstance(item, dict):
            ((group, option),) = item.items()
            chosen[group.split()[-1]] = option
    return chosen


def entry_section(entry: str, configs: Path) -> str:
    """An entry point: the groups it composes, its own keys, and what its YAML file sets."""
    command, schema = ENTRY_POINTS[entry]
    path = configs / f"{entry}.yaml"
    groups = _defaults_list(path)
    lines = [
        f"### {entry} {{#entry-{entry}}}",
        "",
        f"`{command}` (or `python main_{entry}.py`): schema "
        f"`{schema.__module__}.{schema.__qualname__}`, values from `configs/{entry}.yaml`.",
        "",
        "Groups and the option chosen by default: "
        + ", ".join(f"[`{group}`](#{group})=`{_yaml(option)}`" for group, option in groups.items())
        + ".",
        "",
        "Its own keys:",
        "",
        keys_table(list(schema_keys(schema, "", skip=frozenset(groups)))),
    ]
    content = OmegaConf.to_container(OmegaConf.load(path))
    content = {k: v for k, v in content.items() if k not in ("defaults", "hydra")}
    rows = [f"| `{key}` | {_value(value)} |" for key, value in _flatten(content)]
    if rows:
        lines += [
            "",
            f"Values `configs/{entry}.yaml` sets over the schemas' defaults:",
            "",
            "| key | value |",
            "|---|---|",
            *rows,
        ]
    return "\n".join(lines)


def config_reference(configs: Path) -> str:
    """The whole page, for the packaged configs folder ``configs``."""
    sections = [
        "# Config reference",
        "",
        "Generated from the code when the docs are built (`hyperssl.config_reference`): every "
        "config group, every option and every key, with its type and its default. A default "
        "shown as `required` must be given (a data set's schema fills most of them); "
        "`${...}` is an interpolation, resolved when the config is composed. A key is set on "
        "the command line as `key=value` (`method.temperature=0.1`), an option is chosen as "
        "`group=name` (`geometry=geodesic`).",
        "",
        "## Entry points {#entry-points}",
        "",
        "Each command composes its YAML file's defaults list: a schema, then one option per "
        "group. A group's keys are those of the chosen option's schema, listed below.",
    ]
    sections += ["", *(entry_section(entry, configs) + "\n" for entry in ENTRY_POINTS)]
    for registry in PART_REGISTRIES:
        sections += [registry_section(registry), ""]
    for group in PRESET_GROUPS:
        sections += [preset_section(group, configs), ""]
    return "\n".join(sections)
