"""Features extracted once and kept on disk, keyed by what determines them.

The key hashes the checkpoint file's identity (resolved path, size, modification time), the data
config (paths resolved), the split, the split seed and the transform: a retrained checkpoint or any
change of data or preprocessing gives a new key, so stale features are never reused. Files are
written to a temporary name and renamed, so a crash never leaves a half-written entry behind.
"""

from __future__ import annotations

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

FORMAT_VERSION = 1


def file_fingerprint(path: Path) -> dict[str, Any]:
    """What identifies a file's content cheaply: resolved path, size, modification time (ns)."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def cache_key(parts: dict[str, Any]) -> str:
    """A stable hex digest of JSON-serialisable ``parts``."""
    text = json.dumps({"version": FORMAT_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class FeatureCache:
    """``<directory>/<key>.pt`` files holding ``{"features": [N, F], "labels": [N]}``."""

    def __init__(self, directory: str | Path, enabled: bool = True) -> None:
        self.directory = Path(directory).expanduser()
        self.enabled = enabled

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
        if not self.enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"features": features, "labels": labels, "meta": json.dumps(meta, default=str)}
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                torch.save(entry, file)
            os.replace(temporary, self.path(key))
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
