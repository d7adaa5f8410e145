"""Read pickled data files (CIFAR's batches) without letting them run code.

``pickle.load`` calls whatever callables a file names, so a crafted ``data_batch_1`` could run
``os.system``. :class:`DataUnpickler` follows the "Restricting globals" recipe of Python's pickle
documentation: it admits only the globals that dicts, lists, strings, bytes, numbers and numpy
arrays need and refuses every other one before anything is called. Hand-written because neither
the standard library nor numpy offers a restricted unpickler (``numpy.load(allow_pickle=False)``
reads ``.npy`` files, not pickles; ``torch.load(weights_only=True)`` refuses numpy arrays).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from hyperssl.errors import ConfigError

ALLOWED = "dicts, lists, strings, bytes, numbers and numpy arrays"


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """``_codecs.encode`` as pickle protocols 0-2 use it for ``bytes`` (``encode(text,
    'latin1')``), with no other codec: a codec is looked up, and may be imported, by name."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}: only latin1")
    return text.encode("latin1")


# numpy 1.x writes numpy.core.*, numpy 2 numpy._core.*; protocol 5 writes arrays with _frombuffer,
# earlier protocols with _reconstruct; scalar is a numpy number (an np.int64 label).
_NUMPY_GLOBALS = frozenset(
    (f"{package}.{module}", name)
    for package in ("numpy.core", "numpy._core")
    for module, name in (
        ("multiarray", "_reconstruct"),
        ("multiarray", "scalar"),
        ("numeric", "_frombuffer"),
    )
) | {("numpy", "ndarray"), ("numpy", "dtype")}


class RefusedGlobalError(pickle.UnpicklingError):
    """The file names a global (a class or function) that a data file never holds."""

    def __init__(self, qualified_name: str) -> None:
        self.qualified_name = qualified_name
        super().__init__(f"it names the global {qualified_name}, refused")


class DataUnpickler(pickle.Unpickler):
    """An unpickler of dicts, lists, tuples, strings, bytes, numbers, numpy arrays and numpy
    scalars; any other global raises :class:`RefusedGlobalError` before it is imported."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise RefusedGlobalError(f"{module}.{name}")


def load_data_pickle(path: Path, key: str) -> Any:
    """The object pickled in ``path`` (Python 2 strings read as latin-1, as CIFAR's batches need).

    Raises :class:`~hyperssl.errors.ConfigError` on ``key`` naming ``path`` and the global when
    the file names one outside what a data file holds; other failures (truncated or foreign
    files) raise what :mod:`pickle` raises, for the caller to describe.
    """
    with open(path, "rb") as file:
        try:
            return DataUnpickler(file, encoding="latin1").load()
        except RefusedGlobalError as error:
            raise ConfigError(
                key,
                f"{path} names the global {error.qualified_name}, which a data file never "
                "holds: refused, since unpickling it could run code",
                f"pickles of {ALLOWED}",
            ) from error
