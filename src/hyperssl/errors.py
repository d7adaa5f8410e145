"""The exceptions the entry points turn into one line and an exit status."""


class ConfigError(ValueError):
    """A configuration value, path or file that cannot be used.

    The message names the key (or path), the bad value and what is allowed, on one line, so the
    entry points can print it as ``error: <message>`` and exit with status 2.
    """

    def __init__(self, key: str, problem: str, allowed: str | None = None) -> None:
        self.key = key
        self.problem = problem
        self.allowed = allowed
        message = f"{key}: {problem}"
        if allowed:
            message += f"; allowed: {allowed}"
        super().__init__(message)


class NonFiniteLossError(RuntimeError):
    """A loss head produced NaN or inf; the message names the step and the head."""


class TrainingInterruptedError(Exception):
    """Training stopped on a signal after saving a checkpoint at a step boundary; its message is
    the line printed."""


def require(ok: bool, key: str, value: object, allowed: str) -> None:
    """Raise :class:`ConfigError` ``<key>: got <value>; allowed: <allowed>`` unless ``ok``."""
    if not ok:
        raise ConfigError(key, f"got {value!r}", allowed)
