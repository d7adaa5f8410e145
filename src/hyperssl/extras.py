"""The optional extras (pyproject's ``optional-dependencies``) that Hydra options build on: the
modules each installs, and the config-group options its Hydra plugins add."""

from __future__ import annotations

# extra -> the modules it installs that hyperssl's Hydra plugins import.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "slurm": ("submitit", "hydra_plugins.hydra_submitit_launcher"),
    "sweeps": ("hydra_plugins.hydra_joblib_launcher", "hydra_plugins.hydra_optuna_sweeper"),
}
# (config group, option) -> the extra whose Hydra plugin adds that option; the presets built on
# them (hydra/launcher=slurm, local_parallel; hydra/sweeper=optuna_temperature) name these.
EXTRA_OPTIONS: dict[tuple[str, str], str] = {
    ("hydra/launcher", "submitit_slurm"): "slurm",
    ("hydra/launcher", "submitit_local"): "slurm",
    ("hydra/launcher", "joblib"): "sweeps",
    ("hydra/sweeper", "optuna"): "sweeps",
}


def extra_is_missing(error: ModuleNotFoundError, extra: str) -> bool:
    """Whether ``error`` says that a module of ``extra`` is not installed."""
    name = error.name or ""
    return any(name == module or name.startswith(f"{module}.") for module in EXTRA_MODULES[extra])


def install_hint(extra: str) -> str:
    return f'pip install "hyperssl[{extra}]"'
