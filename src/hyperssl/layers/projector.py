"""The projector of a method, built from its ``method.projector`` config."""

from typing import Any

from torch import nn

from hyperssl.layers.mlp import mlp
from hyperssl.layers.spherization import SphericLinear


def build_projector(in_dim: int, cfg: Any) -> nn.Module:
    """MLP ``in_dim -> hidden_dim -> ... -> output_dim``; with ``spherize`` its last linear layer
    becomes a SphericLinear (output read through angles only, Kim & Kim 2022)."""
    last_layer = None
    if cfg.spherize:
        last_in = cfg.hidden_dim if cfg.num_layers > 1 else in_dim
        last_layer = SphericLinear(last_in, cfg.output_dim)
    return mlp(in_dim, cfg.hidden_dim, cfg.output_dim, cfg.num_layers, last_layer=last_layer)
