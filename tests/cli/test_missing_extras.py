"""Installed without an optional extra: Hydra's plugin scan, which imports hyperssl's launchers at
every run, prints no warning, and a preset built on the extra's plugin is one line naming the
extra to install. The extras' modules are hidden from a fresh interpreter by a
``sitecustomize`` that refuses to import them, as on a machine where they were never installed."""

from __future__ import annotations

import os
import textwrap

import pytest
from hydra_runs import entry_environment, run_entry

from hyperssl.cli.errors import EXIT_BAD_INPUT
from hyperssl.extras import EXTRA_MODULES

# Hydra finds plugins by listing the hydra_plugins namespace's folders (pkgutil.iter_modules) and
# loading what it lists without sys.meta_path; other code imports them. Both are refused.
HIDE_MODULES = textwrap.dedent(
    """
    import importlib.abc
    import pkgutil
    import sys

    HIDDEN = {hidden!r}


    def hidden(name):
        return any(name == module or name.startswith(module + ".") for module in HIDDEN)


    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if hidden(name):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None


    listed_modules = pkgutil.iter_modules


    def installed_modules(path=None, prefix=""):
        return (module for module in listed_modules(path, prefix) if not hidden(module.name))


    sys.meta_path.insert(0, NotInstalled())
    pkgutil.iter_modules = installed_modules
    """
)


@pytest.fixture(scope="module")
def without_extras(tmp_path_factory) -> dict[str, str]:
    """The environment of an entry point on a machine with neither the slurm nor the sweeps
    extra."""
    folder = tmp_path_factory.mktemp("without_extras")
    hidden = [module for modules in EXTRA_MODULES.values() for module in modules]
    (folder / "sitecustomize.py").write_text(HIDE_MODULES.format(hidden=hidden))
    environment = entry_environment()
    search_path = [str(folder), *filter(None, [environment.get("PYTHONPATH")])]
    return {**environment, "PYTHONPATH": os.pathsep.join(search_path)}


@pytest.mark.parametrize(
    ("preset", "line"),
    [
        (
            "hydra/launcher=slurm",
            "error: hydra/launcher: option 'submitit_slurm' comes with the slurm extra, which is "
            'not installed: pip install "hyperssl[slurm]"',
        ),
        (
            "hydra/launcher=local_parallel",
            "error: hydra/launcher: option 'joblib' comes with the sweeps extra, which is not "
            'installed: pip install "hyperssl[sweeps]"',
        ),
        (
            "hydra/sweeper=optuna_temperature",
            "error: hydra/sweeper: option 'optuna' comes with the sweeps extra, which is not "
            'installed: pip install "hyperssl[sweeps]"',
        ),
    ],
)
def test_a_preset_of_a_missing_extra_is_one_line_naming_it_and_no_plugin_warns(
    without_extras, tmp_path, preset, line
):
    result = run_entry("main_pretrain.py", ["-m", preset], cwd=tmp_path, environment=without_extras)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert result.stderr.strip().splitlines() == [line]
    assert not (tmp_path / "multirun").exists()
