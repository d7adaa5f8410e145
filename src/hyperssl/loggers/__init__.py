"""Experiment loggers, one registered file each (``logger=<name>``)."""

from hyperssl.loggers.registry import LOGGERS, LoggerConfig, build_logger, register_logger

__all__ = ["LOGGERS", "LoggerConfig", "build_logger", "register_logger"]
