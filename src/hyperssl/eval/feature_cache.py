"""Features extracted once and kept on disk, keyed by what determines them.

The key hashes the checkpoint file's content (SHA-256 of its bytes), the data config (paths
resolved), the split, the split seed and the transform: another checkpoint or any change of data
or preprocessing gives a new key, so stale features are never reused, even when a checkpoint is
replaced by one of the same size and modification time. Files are written to a temporary name and
renamed, so a crash never leaves a half-written entry behind. A cache that cannot be written (disk
full, read-only, a file where its folder should be) is skipped with one warning: it saves time,
the evaluation does not need it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: checkpoints keyed by content, no longer by path, size and mtime
HASH_CHUNK_BYTES = 1 << 20


def file_fingerprint(path: Path) -> dict[str, Any]:
    """What identifies a file's content: its size and the SHA-256 of its bytes.

    The bytes, not the loaded tensors: they also cover the config a checkpoint carries (the
    backbone's architecture) and need nothing loaded. SHA-256 streams the file at about 1 GB/s
    (a ResNet-50 checkpoint with its optimizer state, 300 MB, in well under a second, next to
    minutes of feature extraction); the digest is kept for the process's life by the file's
    identity including its change time (which ``os.utime`` cannot restore), so the train and val
    splits of one evaluation read the file once.
    """
    stat = path.stat()
    identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    return {"size": stat.st_size, "sha256": _sha256(str(path.resolve()), identity)}


@functools.lru_cache(maxsize=16)
def _sha256(path: str, identity: tuple[int, ...]) -> str:
    """The hex SHA-256 of the file ``path``, read in chunks; ``identity`` keys the memo."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    """A stable hex digest of JSON-serialisable ``parts``."""
    text = json.dumps({"version": FORMAT_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _os_error(error: BaseException) -> OSError | None:
    """The OSError behind ``error``, if any: torch.save reports a write that failed (disk full)
    as a RuntimeError ("unexpected pos") raised while handling the OSError."""
    while error is not None:
        if isinstance(error, OSError):
            return error
        error = error.__cause__ or error.__context__
    return None


class FeatureCache:
    """``<directory>/<key>.pt`` files holding ``{"features": [N, F], "labels": [N]}``."""

    def __init__(self, directory: str | Path, enabled: bool = True) -> None:
        self.directory = Path(directory).expanduser()
        self.enabled = enabled
        self.writable = True  # until a write fails: then warned about once and not tried again

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.pt"

    def load(self, key: str) -> tuple[Tensor, Tensor] | None:
        path = self.path(key)
        if not (self.enabled and path.is_file()):
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            return entry["features"], entry["labels"]
        except Exception as error:  # a damaged entry is recomputed, never trusted
            log.warning("ignoring unreadable feature cache entry %s: %s", path, error)
            return None

    def save(self, key: str, features: Tensor, labels: Tensor, meta: dict[str, Any]) -> None:
        """Write the entry; if the cache cannot be written, warn (once) and go on without it."""
        if not (self.enabled and self.writable):
            return
        entry = {"features": features, "labels": labels, "meta": json.dumps(meta, default=str)}
        try:
            self._write(self.path(key), entry)
        except Exception as error:
            reason = _os_error(error)
            if reason is None:
                raise
            self.writable = False
            log.warning(
                "feature cache %s cannot be written (%s): continuing without it; set "
                "feature_cache.dir to a writable folder or feature_cache.enabled=false",
                self.directory,
                reason,
            )

    def _write(self, path: Path, entry: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                torch.save(entry, file)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get_or_compute(
        self, parts: dict[str, Any], compute: Callable[[], tuple[Tensor, Tensor]]
    ) -> tuple[Tensor, Tensor, bool]:
        """(features, labels, whether they came from the cache)."""
        key = cache_key(parts)
        cached = self.load(key)
        if cached is not None:
            log.info("features from cache %s", self.path(key))
            return *cached, True
        features, labels = compute()
        self.save(key, features, labels, parts)
        return features, labels, False
