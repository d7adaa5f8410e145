"""Loss heads: the methods' objectives and the hyperspherical regularisers, one registered file
each (``heads=[uniformity,mhe]``)."""

from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import HEADS, build_head, build_heads, register_head, validate_heads

__all__ = [
    "HEADS",
    "HeadConfig",
    "LossHead",
    "StepOutput",
    "build_head",
    "build_heads",
    "register_head",
    "validate_heads",
]
