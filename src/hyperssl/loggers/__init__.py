"""Experiment loggers, one registered file each (``logger=<name>``)."""

from hyperssl.loggers.registry import LOGGERS, LoggerConfig, build_loggers, register_logger
from hyperssl.loggers.run_end import closing_loggers, log_final_metrics

__all__ = [
    "LOGGERS",
    "LoggerConfig",
    "build_loggers",
    "closing_loggers",
    "log_final_metrics",
    "register_logger",
]
