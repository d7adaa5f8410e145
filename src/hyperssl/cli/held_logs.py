"""Hold back what a block logs until it succeeds, so that bad input it finds is the only line.

The evaluation entry points must load the checkpoint before they can check the data (the split
depends on how the encoder was pretrained), and loading it logs what was found. Should the data
then be refused, those lines would precede the error; held here, they are dropped with it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

PACKAGE_LOGGER = "hyperssl"


class _Holder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def logs_held_until_success(name: str = PACKAGE_LOGGER) -> Iterator[None]:
    """Records of logger ``name`` (and its children) in the block reach the handlers only once
    the block has ended without an exception."""
    logger = logging.getLogger(name)
    holder = _Holder()
    propagate = logger.propagate
    logger.addHandler(holder)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(holder)
        logger.propagate = propagate
    for record in holder.records:
        logger.handle(record)
