"""Turn configuration mistakes into one line on stderr and exit status 2.

Hydra prints composition errors over several lines and exits 1. The entry points instead let Hydra
raise (``HYDRA_FULL_ERROR=1`` internally) and translate the exceptions that describe bad input:
our :class:`~hyperssl.ConfigError`, Hydra's missing-option and override errors, and OmegaConf's
unknown-key and wrong-type errors. Setting ``HYDRA_FULL_ERROR=1`` yourself shows the traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from hyperssl.errors import ConfigError, NonFiniteLossError

EXIT_BAD_INPUT = 2
EXIT_NON_FINITE = 3
T = TypeVar("T")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text.strip())


def _allowed_keys(object_type: Any) -> str | None:
    if dataclasses.is_dataclass(object_type):
        return ", ".join(f.name for f in dataclasses.fields(object_type))
    return None


def _describe_omegaconf(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None) or getattr(error, "key", None) or "config"
    if isinstance(error, ConfigKeyError | ConfigAttributeError):
        message = f"{key}: unknown key"
        allowed = _allowed_keys(getattr(error, "object_type", None))
        if allowed:
            return f"{message}; allowed: {allowed}"
        # A free-form mapping (e.g. backbone.kwargs): Hydra adds new keys only with '+'.
        return f"{message}; allowed: a new key of this mapping, added as +{key}=<value>"
    return f"{key}: {_first_line(getattr(error, 'msg', None) or str(error))}"


def _describe_missing_option(error: MissingConfigException) -> str:
    missing = error.missing_cfg_file or ""
    group, _, option = missing.rpartition("/")
    if group and error.options is not None:
        allowed = ", ".join(sorted(error.options))
        return f"{group}: unknown option {option!r}; allowed: {allowed}"
    return _describe_missing_option_text(str(error)) or _first_line(str(error))


_MISSING_OPTION = re.compile(r"Could not (?:load|find) '(?P<group>[\w/]+)/(?P<option>[^']+)'")


def _group_options(group: str) -> list[str]:
    """The options of a config group: its registry's names, or the YAML files of
    ``configs/<group>/`` beside the entry point (Hydra clears its own instance when composition
    fails, so its list is gone)."""
    from hyperssl.parts import PART_REGISTRIES

    for registry in PART_REGISTRIES:
        if registry.group == group:
            return registry.names()
    folder = Path(sys.argv[0]).resolve().parent / "configs" / group
    return [path.stem for path in folder.glob("*.yaml")]


def _describe_missing_option_text(text: str) -> str | None:
    match = _MISSING_OPTION.search(text)
    if match is None:
        return None
    group, option = match["group"], match["option"]
    message = f"{group}: unknown option {option!r}"
    options = _group_options(group)
    return f"{message}; allowed: {', '.join(sorted(options))}" if options else message


_WORKER_ERROR = re.compile(r"Caught \w+ in DataLoader worker process \d+\.")


def _config_error_from_worker(error: BaseException) -> str | None:
    """The message of a ConfigError raised in a DataLoader worker (an image that does not decode).

    torch re-raises a worker's exception in the main process as ``type(message)``, which
    ConfigError's (key, problem) constructor refuses, so it arrives as a RuntimeError holding the
    worker's traceback as text; its last line is ``<module>.<type>: <message>``.
    """
    text = str(error).strip()
    if not _WORKER_ERROR.match(text):
        return None
    name, _, message = text.splitlines()[-1].partition(": ")
    module, _, type_name = name.rpartition(".")
    raised = getattr(sys.modules.get(module), type_name, None)
    if isinstance(raised, type) and issubclass(raised, ConfigError):
        return message
    return None


def describe_bad_input(error: BaseException) -> str | None:
    """One line naming the key, the bad value and what is allowed; None if not bad input."""
    if isinstance(error, ConfigError):
        return str(error)
    if isinstance(error, RuntimeError) and (message := _config_error_from_worker(error)):
        return message
    if isinstance(error, MissingConfigException):
        return _describe_missing_option(error)
    if isinstance(error, OverrideParseException):
        return f"override {error.override!r}: {_first_line(error.message)}"
    cause = error.__cause__ or error.__context__
    if isinstance(error, OmegaConfBaseException):
        return _describe_omegaconf(error)
    if isinstance(error, HydraException):
        if isinstance(cause, OmegaConfBaseException):
            return _describe_omegaconf(cause)
        if isinstance(cause, ConfigError):
            return str(cause)
        return _describe_missing_option_text(str(error)) or _first_line(str(error))
    return None


# Whether the user asked for tracebacks; read before HYDRA_FULL_ERROR is set for our own use.
_SHOW_TRACEBACK = os.environ.get("HYDRA_FULL_ERROR") == "1"


def _exit_if_bad_input(error: Exception) -> None:
    if _SHOW_TRACEBACK:
        return
    if isinstance(error, NonFiniteLossError):
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_NON_FINITE)
    message = describe_bad_input(error)
    if message is not None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def reporting_bad_input(task: Callable[[DictConfig], T]) -> Callable[[DictConfig], T]:
    """Wrap a Hydra task: bad input found while it runs exits 2 with one line.

    Exiting from inside the task keeps Hydra from printing its own "Error executing job" line.
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> T:
        try:
            return task(cfg)
        except Exception as error:
            _exit_if_bad_input(error)
            raise

    return wrapped


def run_reporting_bad_input(hydra_main: Callable[[], Any]) -> None:
    """Call a ``@hydra.main`` function; bad input ends as ``error: ...`` and exit status 2."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        hydra_main()
    except Exception as error:
        _exit_if_bad_input(error)
        raise
