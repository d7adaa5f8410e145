"""Loss heads: the method's objective and the hyperspherical regularisers."""

from hyperssl.heads.base import LossHead, StepOutput
from hyperssl.heads.contrastive import NTXentHead
from hyperssl.heads.registry import HEADS, build_heads, validate_heads

__all__ = ["HEADS", "LossHead", "NTXentHead", "StepOutput", "build_heads", "validate_heads"]
