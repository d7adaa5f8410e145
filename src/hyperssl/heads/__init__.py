"""Loss heads: the method's objective and the hyperspherical regularisers."""

from hyperssl.heads.base import LossHead, StepOutput
from hyperssl.heads.classification import CrossEntropyHead
from hyperssl.heads.contrastive import BYOLHead, InfoNCEQueueHead, MoCoV3Head, NTXentHead
from hyperssl.heads.registry import HEADS, build_heads, validate_heads

__all__ = [
    "HEADS",
    "BYOLHead",
    "CrossEntropyHead",
    "InfoNCEQueueHead",
    "LossHead",
    "MoCoV3Head",
    "NTXentHead",
    "StepOutput",
    "build_heads",
    "validate_heads",
]
