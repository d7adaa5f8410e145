"""The README's table of config groups and their options, generated from the registries (and,
for the groups that are plain YAML presets, from ``configs/<group>/``)."""

from __future__ import annotations

from pathlib import Path

from hyperssl.parts import PART_REGISTRIES

# Groups chosen by YAML presets rather than registered parts, and what their row adds.
PRESET_GROUPS = {
    "augmentations": "",
    "trainer": "; any `trainer.<Lightning Trainer argument>=...`",
}
NOTES = {
    "heads": " (several at once)",
}
TAILS = {
    "backbone": " (`timm`: any timm model by name)",
    "data": " (`folder`: unlabelled images)",
    "logger": " (`wandb`: offline unless an API key is set)",
}


def _cell(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def preset_names(configs: Path, group: str) -> list[str]:
    """The options of a preset group: the YAML files of ``configs/<group>/``, sorted."""
    return sorted(path.stem for path in (configs / group).glob("*.yaml"))


def options_table(configs: Path) -> str:
    """The Markdown table: one row per config group, its options in alphabetical order."""
    rows = ["| group | options |", "|---|---|"]
    for registry in PART_REGISTRIES:
        group = registry.group
        cell = _cell(registry.names()) + TAILS.get(group, "")
        rows.append(f"| `{group}`{NOTES.get(group, '')} | {cell} |")
    for group, tail in PRESET_GROUPS.items():
        rows.append(f"| `{group}` | {_cell(preset_names(configs, group))}{tail} |")
    return "\n".join(rows)


if __name__ == "__main__":
    # python -m hyperssl.options_table [configs dir]; the packaged configs by default
    import sys

    from hyperssl.cli.compose import CONFIGS

    print(options_table(Path(sys.argv[1]) if len(sys.argv) > 1 else CONFIGS))
