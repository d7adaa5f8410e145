"""Layers: the spherization layer and the classifier layers built on it."""

from hyperssl.layers.spherization import SphericConv2d, SphericLinear, Spherization

__all__ = ["SphericConv2d", "SphericLinear", "Spherization"]
