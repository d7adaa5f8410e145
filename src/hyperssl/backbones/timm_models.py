"""Any timm model by name (``backbone=timm backbone.model_name=<name>``), headless."""

from dataclasses import dataclass, field
from typing import Any

import timm
from omegaconf import DictConfig
from torch import nn

from hyperssl.backbones.registry import BackboneConfig, register_backbone
from hyperssl.backbones.stems import check_small_stem_padding, use_small_image_stem
from hyperssl.errors import ConfigError, require


@dataclass
class TimmConfig(BackboneConfig):
    """``backbone=timm backbone.model_name=convnext_atto``; ``kwargs`` are ``small_stem_padding``
    (the padding of the small-image stem's 3x3 conv; solo-learn's CIFAR stem: 2) and any keyword
    arguments of ``timm.create_model`` (free-form: each model has its own)."""

    model_name: str | None = "resnet18"
    kwargs: dict[str, Any] = field(default_factory=lambda: {"small_stem_padding": 1})

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        """Unlike the other backbones, timm needs a model name: one timm knows."""
        check_timm_model(self.model_name, f"{key}.model_name")
        # timm downloads pretrained weights from the Hub, and runs never download anything.
        require(
            not self.kwargs.get("pretrained", False),
            f"{key}.kwargs.pretrained",
            self.kwargs.get("pretrained"),
            "false: weights are never downloaded; start from a local checkpoint instead",
        )
        require(
            "num_classes" not in self.kwargs,
            f"{key}.kwargs.num_classes",
            self.kwargs.get("num_classes"),
            "unset: the backbone is headless (num_classes=0); the method adds the classifier",
        )
        if "small_stem_padding" in self.kwargs:  # else create_backbone fills the default in
            padding = self.kwargs["small_stem_padding"]
            check_small_stem_padding(padding, f"{key}.kwargs.small_stem_padding")


def check_timm_model(model_name: str | None, key: str) -> None:
    """ConfigError naming ``key`` unless ``model_name`` is one of ``timm.list_models()``."""
    if not model_name:
        raise ConfigError(key, "is required for backbone=timm", "any timm name")
    if model_name not in timm.list_models():
        raise ConfigError(key, f"unknown timm model {model_name!r}", "see timm.list_models()")


@register_backbone("timm", TimmConfig)
def timm_model(
    image_size: int,
    small_stem: bool,
    small_stem_padding: int,
    model_name: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    check_timm_model(model_name, "backbone.model_name")
    # Weights are never fetched at run time; pretrained weights come in through the checkpoint.
    model = timm.create_model(model_name, pretrained=False, num_classes=0, **kwargs)
    if small_stem:
        use_small_image_stem(model, model_name, small_stem_padding)
    return model
