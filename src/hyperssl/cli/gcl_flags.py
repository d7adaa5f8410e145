"""solo-learn/GCL's argparse-style ``main_knn.py`` flags, translated into Hydra overrides.

GCL's README runs::

    python3 main_knn.py --dataset cifar100 --train_data_path ./datasets \\
        --val_data_path ./datasets --pretrained_checkpoint_dir 'pretrained/checkpoint/dir' \\
        --k 1 10 --temperature 0.2 --feature_type backbone --distance_function cosine

``main_knn.py`` rewrites such flags into overrides of ``configs/knn.yaml`` (``data=cifar100``,
``knn.k=[1,10]`` ...) before Hydra parses the command line; Hydra's own flags and overrides pass
through untouched, so both spellings can be mixed.
"""

from __future__ import annotations

import re
from typing import Literal

from hyperssl.errors import ConfigError

Kind = Literal["choice", "value", "list"]

# flag -> (Hydra key, kind): a config-group choice, one value, or one or more values.
FLAGS: dict[str, tuple[str, Kind]] = {
    "--dataset": ("data", "choice"),
    "--train_data_path": ("data.train_path", "value"),
    "--val_data_path": ("data.val_path", "value"),
    "--pretrained_checkpoint_dir": ("pretrained_feature_extractor", "value"),
    "--k": ("knn.k", "list"),
    "--temperature": ("knn.temperature", "list"),
    "--feature_type": ("knn.feature_type", "list"),
    "--distance_function": ("knn.distance_function", "list"),
    "--batch_size": ("batch_size", "value"),
    "--num_workers": ("data.num_workers", "value"),
}
# solo-learn calls a folder of class sub-folders "custom".
DATASET_ALIASES = {"custom": "imagefolder"}
HYDRA_FLAGS = (
    "--help", "--hydra-help", "--version", "--cfg", "--resolve", "--package", "--run",
    "--multirun", "--shell-completion", "--config-path", "--config-name", "--config-dir",
    "--info", "--experimental-rerun",
    "-h", "-c", "-p", "-r", "-m", "-sc", "-cp", "-cn", "-cd", "-i",
)  # fmt: skip
_NUMBER = re.compile(r"-?\d+(\.\d*)?([eE]-?\d+)?")


def quote(value: str) -> str:
    """``value`` as a single-quoted Hydra override value (any path, with spaces, commas, '=').

    Inside quotes Hydra un-escapes only backslashes that precede a quote, so those are doubled
    (and a quote is escaped) to keep every character as typed.
    """
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return f"'{escaped}'"


def _ends_values(token: str) -> bool:
    """Whether ``token`` starts the next argument rather than adding a value to a list flag."""
    if token.startswith("-") and not _NUMBER.fullmatch(token):
        return True
    return "=" in token


def _override(flag: str, key: str, kind: Kind, values: list[str]) -> str:
    if not values:
        raise ConfigError(
            flag, "needs a value", f"{flag} <value>" + (" ..." if kind == "list" else "")
        )
    if kind == "list":
        return f"{key}=[{','.join(values)}]"
    if len(values) != 1:
        raise ConfigError(flag, f"takes one value, got {len(values)}: {' '.join(values)}")
    if kind == "choice":
        return f"{key}={DATASET_ALIASES.get(values[0], values[0])}"
    return f"{key}={quote(values[0])}"


def translate_gcl_flags(argv: list[str]) -> list[str]:
    """Command-line arguments with every GCL flag replaced by the equivalent Hydra override."""
    translated: list[str] = []
    seen: set[str] = set()
    position = 0
    while position < len(argv):
        token = argv[position]
        position += 1
        flag, has_inline, inline = token.partition("=")
        if flag not in FLAGS:
            # Before Hydra's argparse, whose "unrecognized arguments" is its whole usage text.
            if flag.startswith("-") and flag not in HYDRA_FLAGS:
                raise ConfigError(flag, "unknown flag", ", ".join(FLAGS) + ", or Hydra's flags")
            translated.append(token)
            continue
        if flag in seen:
            raise ConfigError(
                flag, "given twice", "once (a list flag takes all its values: --k 1 5 10)"
            )
        seen.add(flag)
        key, kind = FLAGS[flag]
        if has_inline:
            values = [inline] if kind != "list" else inline.split(",")
        elif kind == "list":
            values = []
            while position < len(argv) and not _ends_values(argv[position]):
                values.append(argv[position])
                position += 1
        elif position < len(argv) and not argv[position].startswith("--"):
            values = [argv[position]]
            position += 1
        else:
            values = []
        translated.append(_override(flag, key, kind, values))
    return translated
