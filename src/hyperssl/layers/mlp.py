"""Projector and predictor MLPs."""

from collections.abc import Callable

from torch import nn


def mlp(
    in_dim: int,
    hidden_dim: int,
    out_dim: int,
    num_layers: int = 2,
    last_batch_norm: bool = False,
    last_batch_norm_affine: bool = False,
    last_layer: nn.Module | None = None,
    hidden_batch_norm: bool = True,
    last_bias: bool = True,
    activation: Callable[[], nn.Module] = lambda: nn.ReLU(True),
) -> nn.Sequential:
    """Hidden blocks, then a last linear layer (or ``last_layer`` in its place).

    ``num_layers`` counts linear layers (SimCLR: 2, MoCo v3 projector: 3). A hidden block is
    Linear(bias=False)-BatchNorm-ReLU, or with ``hidden_batch_norm=False`` Linear(bias=True)-ReLU
    (solo-learn's SimCLR and MoCo v2+ projectors). ``last_batch_norm`` adds a BatchNorm at the
    output, affine-free as MoCo v3's or with a learnt scale and shift (``last_batch_norm_affine``,
    NNCLR's); ``last_bias=False`` drops the last linear layer's
    bias (MoCo v3's MLPs have none). ``activation`` makes each hidden block's non-linearity
    (ReLU by default; DINO's head uses GELU).
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(num_layers - 1):
        if hidden_batch_norm:
            layers += [nn.Linear(dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim)]
        else:
            layers.append(nn.Linear(dim, hidden_dim))
        layers.append(activation())
        dim = hidden_dim
    layers.append(last_layer if last_layer is not None else nn.Linear(dim, out_dim, last_bias))
    if last_batch_norm:
        layers.append(nn.BatchNorm1d(out_dim, affine=last_batch_norm_affine))
    return nn.Sequential(*layers)
