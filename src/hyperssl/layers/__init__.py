"""Layers: the spherization layer and the classifier layers built on it, and the angular-margin
classifiers (SphereFace, CosFace, ArcFace)."""

from hyperssl.layers.angular_margin import ArcFace, CosFace, SphereFace
from hyperssl.layers.spherization import SphericConv2d, SphericLinear, Spherization

__all__ = ["ArcFace", "CosFace", "SphereFace", "SphericConv2d", "SphericLinear", "Spherization"]
