"""DINO's projection head (Caron et al., "Emerging Properties in Self-Supervised Vision
Transformers", ICCV 2021, Sec. 3.1 and Appendix): an MLP to a bottleneck, L2 normalisation, and a
weight-normalised last layer whose K outputs are scores against K prototypes."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyperssl.geometries import GeometryLike
from hyperssl.geometry import loss_dtype, no_autocast, similarity
from hyperssl.layers.mlp import mlp


class PrototypeScores(nn.Module):
    r"""The weight-normalised last layer of DINO's head, read through the run's geometry:

        out_k = g_k · s(x̂, v̂_k),   x̂ = x/||x||,  v̂_k = v_k/||v_k||

    with s the geometry's similarity (:func:`hyperssl.geometry.similarity`). With ``"cosine"``,
    s(x̂, v̂_k) = x̂·v̂_k and out = x̂ Wᵀ with w_k = g_k v_k/||v_k||: exactly the
    ``weight_norm(Linear(D, K, bias=False))`` of the reference code applied to the normalised
    bottleneck. It is written by hand rather than with ``torch.nn.utils.weight_norm`` because the
    geometry has to act on the cosine x̂·v̂_k before the gain g_k multiplies it, and a
    weight-normalised linear layer only ever returns g_k·cos.

    ``norm_last_layer`` fixes g to 1 (the paper's default, for stability: Appendix, "Projection
    head"); otherwise g is learned. v is initialised as ``nn.Linear``'s weight, g to 1, as in the
    reference.

    x: [B, D] -> [B, K], float32 (float64 for float64 input), autocast off.
    """

    def __init__(
        self, dim: int, num_prototypes: int, norm_last_layer: bool, geometry: GeometryLike
    ) -> None:
        super().__init__()
        self.geometry = geometry
        self.weight_v = nn.Parameter(torch.empty(num_prototypes, dim))
        nn.init.kaiming_uniform_(self.weight_v, a=math.sqrt(5))  # nn.Linear's default
        self.weight_g = nn.Parameter(torch.ones(num_prototypes), requires_grad=not norm_last_layer)

    def forward(self, x: Tensor) -> Tensor:
        with no_autocast(x):
            # Normalised in the loss dtype: a bfloat16 norm would put a 0.4 % error on every score.
            dtype = loss_dtype(x, self.weight_v)
            x = F.normalize(x.to(dtype), dim=1)
            prototypes = F.normalize(self.weight_v.to(dtype), dim=1)
            return self.weight_g.to(dtype) * similarity(x, prototypes, self.geometry)


class DINOHead(nn.Module):
    """Backbone features -> ``mlp`` (Linear-[BatchNorm]-GELU blocks to the bottleneck, weights
    from a truncated normal of std 0.02 and zero biases, as the reference) -> ``last_layer``
    (:class:`PrototypeScores`, which L2-normalises the bottleneck).

    ``projector`` is the method's :class:`hyperssl.layers.projector.ProjectorConfig`: hidden_dim,
    output_dim (the bottleneck), num_layers and hidden_batch_norm.

    x: [B, F] -> [B, K] prototype scores; :meth:`bottleneck` gives the [B, output_dim] MLP output.
    """

    def __init__(
        self,
        in_dim: int,
        projector: Any,
        num_prototypes: int,
        norm_last_layer: bool,
        geometry: GeometryLike,
    ) -> None:
        super().__init__()
        self.mlp = mlp(
            in_dim,
            projector.hidden_dim,
            projector.output_dim,
            projector.num_layers,
            hidden_batch_norm=projector.hidden_batch_norm,
            activation=nn.GELU,
        )
        for module in self.mlp.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.last_layer = PrototypeScores(
            projector.output_dim, num_prototypes, norm_last_layer, geometry
        )

    def bottleneck(self, x: Tensor) -> Tensor:
        """The MLP's output, before normalisation: [B, F] -> [B, output_dim]."""
        return self.mlp(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.last_layer(self.mlp(x))
