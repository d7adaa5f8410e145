"""Geometries on the unit hypersphere, one registered file each (``geometry=<name>``)."""

from hyperssl.geometries.base import (
    GEOMETRIES,
    Geometry,
    GeometryConfig,
    GeometryLike,
    create_geometry,
    register_geometry,
)

__all__ = [
    "GEOMETRIES",
    "Geometry",
    "GeometryConfig",
    "GeometryLike",
    "create_geometry",
    "register_geometry",
]
