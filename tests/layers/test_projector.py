"""The projector MLP: its hidden blocks with and without BatchNorm."""

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from hyperssl.layers.projector import (
    PredictorConfig,
    ProjectorConfig,
    build_predictor,
    build_projector,
)
from hyperssl.methods.mocov3 import MoCoV3Config


def projector(**values) -> nn.Sequential:
    return build_projector(6, OmegaConf.merge(OmegaConf.structured(ProjectorConfig), values))


def test_hidden_blocks_are_bias_free_linear_batch_norm_relu_by_default():
    model = projector(hidden_dim=5, output_dim=3)
    assert [type(layer) for layer in model] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert model[0].bias is None and model[3].bias is not None


@pytest.mark.parametrize("num_layers", [2, 3])
def test_hidden_blocks_without_batch_norm_are_linear_with_bias_then_relu(num_layers):
    model = projector(hidden_dim=5, output_dim=3, num_layers=num_layers, hidden_batch_norm=False)
    types = [nn.Linear, nn.ReLU] * (num_layers - 1) + [nn.Linear]
    assert [type(layer) for layer in model] == types
    assert all(layer.bias is not None for layer in model if isinstance(layer, nn.Linear))


def test_projector_without_batch_norm_is_relu_of_the_first_affine_map_then_the_second():
    model = projector(hidden_dim=5, output_dim=3, hidden_batch_norm=False).double().train()
    x = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    first, second = model[0], model[2]
    hidden = (x @ first.weight.T + first.bias).clamp(min=0)
    torch.testing.assert_close(model(x), hidden @ second.weight.T + second.bias)


def test_mocov3_predictor_output_layer_has_no_bias():
    config = OmegaConf.structured(MoCoV3Config)
    predictor = build_predictor(4, config.predictor)
    assert [type(layer) for layer in predictor] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert predictor[0].bias is None and predictor[3].bias is None
    default = build_predictor(4, OmegaConf.structured(PredictorConfig))
    assert default[3].bias is not None
