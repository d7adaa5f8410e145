"""Checks that a picture file is a real, non-trivial PNG."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path: Path, min_bytes: int = 10_000, min_size: tuple[int, int] = (400, 300)):
    """A decodable PNG of at least ``min_size`` pixels whose file holds ``min_bytes`` or more."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_size[0] and image.height >= min_size[1], image.size
    assert path.stat().st_size >= min_bytes, path.stat().st_size
