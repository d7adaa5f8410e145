"""Turn configuration mistakes into one line on stderr and exit status 2.

Hydra prints composition errors over several lines and exits 1. The entry points instead let Hydra
raise (``HYDRA_FULL_ERROR=1`` internally) and translate the exceptions that describe bad input:
our :class:`~hyperssl.ConfigError`, Hydra's missing-option and override errors, and OmegaConf's
unknown-key and wrong-type errors. Setting ``HYDRA_FULL_ERROR=1`` yourself shows the traceback.

In a sweep (``-m``) a job's error does not end the sweep: the job prints its one line (also into
its log), Hydra marks it failed and runs the others, and the sweep ends with one line per failed
job and exit status 4.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from hyperssl.errors import ConfigError, NonFiniteLossError, TrainingInterruptedError
from hyperssl.extras import EXTRA_OPTIONS, install_hint

EXIT_BAD_INPUT = 2
EXIT_NON_FINITE = 3
EXIT_SWEEP_JOBS_FAILED = 4  # the other jobs of the sweep ran; one line per failed job
# Stopped by SIGTERM, SIGINT, SIGUSR1 or SIGUSR2 after saving a checkpoint: continue with
# resume=auto (sysexits' EX_TEMPFAIL, "temporary failure, the user is invited to retry").
EXIT_INTERRUPTED = os.EX_TEMPFAIL
# The file system refused (permissions, a full or read-only disk, a file where a directory
# should be): not a bad value, but no program error either (sysexits' EX_IOERR).
EXIT_FILE_SYSTEM = os.EX_IOERR
_MORE_SPACE = "free some space, or another disk (hydra.run.dir=..., feature_cache.dir=...)"
# errno -> (what is wrong, when the OS's own words are unclear; what would do).
FILE_SYSTEM_ERRNOS: dict[int, tuple[str | None, str]] = {
    errno.EACCES: (None, "check its permissions, or choose another path"),
    errno.EPERM: (None, "check its permissions, or choose another path"),
    errno.ENOSPC: (None, _MORE_SPACE),
    errno.EDQUOT: (None, _MORE_SPACE),
    errno.EROFS: (None, "a writable path"),
    errno.EEXIST: ("is a file where a directory should be", "a directory, or another path"),
    errno.ENOTDIR: ("has a file among its parent directories", "a path through directories"),
    errno.EISDIR: ("is a directory where a file should be", "a file, or another path"),
}
T = TypeVar("T")
log = logging.getLogger(__name__)


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
        return _describe_unknown_option(group, option, error.options)
    return _describe_missing_option_text(str(error)) or _first_line(str(error))


_MISSING_OPTION = re.compile(r"Could not (?:load|find) '(?P<group>[\w/]+)/(?P<option>[^']+)'")


def _group_options(group: str) -> list[str]:
    """The options of a config group: its registry's names, or the YAML files of the packaged
    ``configs/<group>/`` (Hydra clears its own instance when composition fails, so its list is
    gone)."""
    from hyperssl.cli.compose import CONFIGS
    from hyperssl.options_table import preset_names
    from hyperssl.parts import PART_REGISTRIES

    for registry in PART_REGISTRIES:
        if registry.group == group:
            return registry.names()
    return preset_names(CONFIGS, group)


def missing_extra(group: str, option: str) -> str | None:
    """The line for an option that a Hydra plugin of an extra adds, where that extra is not
    installed (``hydra/launcher=slurm`` builds on ``submitit_slurm``); None for other options."""
    extra = EXTRA_OPTIONS.get((group, option))
    if extra is None:
        return None
    return (
        f"{group}: option {option!r} comes with the {extra} extra, which is not installed: "
        f"{install_hint(extra)}"
    )


def _describe_missing_option_text(text: str) -> str | None:
    match = _MISSING_OPTION.search(text)
    if match is None:
        return None
    return _describe_unknown_option(match["group"], match["option"], _group_options(match["group"]))


def _describe_unknown_option(group: str, option: str, options: Sequence[str]) -> str:
    """``<group>: unknown option <option>; allowed: <options>``, or the extra that adds it."""
    if needs_extra := missing_extra(group, option):
        return needs_extra
    message = f"{group}: unknown option {option!r}"
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


def _describe_override_parse(error: OverrideParseException) -> str:
    """Hydra's grammar errors, with the quoting that fixes the two a shell user meets: a path
    with spaces split into two arguments, and characters the grammar takes only quoted."""
    override = error.override
    key, has_value, value = override.partition("=")
    if not has_value:
        return (
            f"override {override!r}: not key=value; allowed: key=value, a value with spaces "
            "quoted whole for the shell, as in 'data.train_path=/my data'"
        )
    if error.message.startswith("LexerNoViableAltException"):
        return (
            f"override {override!r}: Hydra's override grammar takes this value only in quotes; "
            f"allowed: \"{key}='{value}'\" (the outer quotes for the shell)"
        )
    return f"override {override!r}: {_first_line(error.message)}"


def describe_bad_input(error: BaseException) -> str | None:
    """One line naming the key, the bad value and what is allowed; None if not bad input."""
    if isinstance(error, ConfigError):
        return str(error)
    if isinstance(error, RuntimeError) and (message := _config_error_from_worker(error)):
        return message
    if isinstance(error, MissingConfigException):
        return _describe_missing_option(error)
    if isinstance(error, OverrideParseException):
        return _describe_override_parse(error)
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


# Whether the user asked for tracebacks, read before HYDRA_FULL_ERROR is set for our own use and
# kept in HYPERSSL_SHOW_TRACEBACK for the processes started from here: a sweep's SLURM jobs
# inherit the launcher's environment, HYDRA_FULL_ERROR=1 included.
_SHOW_TRACEBACK = (
    os.environ.setdefault("HYPERSSL_SHOW_TRACEBACK", os.environ.get("HYDRA_FULL_ERROR", "0")) == "1"
)


def _exit_if_bad_input(error: Exception) -> None:
    if _SHOW_TRACEBACK:
        return
    if isinstance(error, NonFiniteLossError):
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_NON_FINITE)
    if isinstance(error, TrainingInterruptedError):
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    message = describe_bad_input(error)
    if message is not None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    message = describe_file_system_error(error)
    if message is not None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_FILE_SYSTEM)


def describe_file_system_error(error: BaseException) -> str | None:
    """One line for an error the file system caused, or None. The OSError may sit behind what
    was raised (a full disk surfaces from torch.save as a RuntimeError about the zip writer)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in FILE_SYSTEM_ERRNOS:
            where = error.filename if error.filename is not None else "a file"
            problem, allowed = FILE_SYSTEM_ERRNOS[error.errno]
            return f"{where}: {problem or error.strerror}; allowed: {allowed}"
        error = error.__cause__ or error.__context__
    return None


class SweepJobFailedError(Exception):
    """A sweep job failed; its message is the job's line. Raised from the task, it lets Hydra mark
    the job failed (``JobReturn.status``) and run the sweep's other jobs; the sweeper raises the
    first one once they have run."""


# The lines of the failed jobs of this process's sweep, printed when it ends: noted by the task
# where the jobs run in this process (Hydra's basic launcher), else from the launcher's returns.
_failed_jobs: list[str] = []


def _note_failed_job(line: str) -> None:
    if line not in _failed_jobs:
        _failed_jobs.append(line)


def note_failed_jobs(returns: Sequence[JobReturn]) -> None:
    """Note the failed jobs among a launcher's ``returns``, in the process running the sweep."""
    for job in returns:
        # The error itself: JobReturn.return_value would print Hydra's "Error executing job" line.
        failure = job._return_value
        if job.status == JobStatus.FAILED and isinstance(failure, SweepJobFailedError):
            _note_failed_job(str(failure))


def _in_sweep_job() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _failed_job(error: Exception) -> SweepJobFailedError:
    """Report a sweep job's error in one line, on stderr and in the job's log (its traceback
    too when it is not bad input); the error to raise so that the sweep goes on."""
    if isinstance(error, NonFiniteLossError):
        message: str | None = str(error)
    else:
        message = describe_bad_input(error) or describe_file_system_error(error)
    expected = message is not None
    if message is None:
        message = f"{type(error).__name__}: {_first_line(str(error))}"
    hydra = HydraConfig.get()
    line = f"job {hydra.job.num} failed ({hydra.runtime.output_dir}): {message}"
    log.error(line, exc_info=error if _SHOW_TRACEBACK or not expected else None)
    print(f"error: {line}", file=sys.stderr)
    _note_failed_job(line)
    return SweepJobFailedError(line)


def reporting_bad_input(task: Callable[[DictConfig], T]) -> Callable[[DictConfig], T]:
    """Wrap a Hydra task: bad input found while it runs exits 2 with one line; in a sweep, a
    job's error is reported in one line and the sweep goes on.

    Exiting from inside the task keeps Hydra from printing its own "Error executing job" line.
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> T:
        try:
            return task(cfg)
        except Exception as error:
            # An interrupted job stops the sweep: its signal was meant for all of it.
            if _in_sweep_job() and not isinstance(error, TrainingInterruptedError):
                raise _failed_job(error) from error
            _exit_if_bad_input(error)
            raise

    return wrapped


def run_reporting_bad_input(hydra_main: Callable[[], Any]) -> None:
    """Call a ``@hydra.main`` function; bad input ends as ``error: ...`` and exit status 2, a
    sweep with failed jobs as one ``error: job ...`` line per failed job and exit status 4."""
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        hydra_main()
    except SweepJobFailedError as failure:
        if _SHOW_TRACEBACK:
            raise
        for line in _failed_jobs or [str(failure)]:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_SWEEP_JOBS_FAILED)
    except Exception as error:
        _exit_if_bad_input(error)
        raise
