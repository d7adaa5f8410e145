"""Import a script under scripts/ as a module, as its folder's sibling scripts see each other."""

import importlib
from types import ModuleType

import pytest
from hydra_runs import REPO


def import_script(folder: str, name: str) -> ModuleType:
    """``scripts/<folder>/<name>.py`` imported as ``name``, with its folder on ``sys.path`` only
    while it imports (its own imports of sibling scripts resolve then)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO / "scripts" / folder))
        return importlib.import_module(name)
