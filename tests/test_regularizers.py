"""The drop-in regularizers: HCR's own optimizer step and MHE's sum over a model's layers."""

import pytest
import torch
from torch import nn

from hyperssl import ConfigError
from hyperssl.losses import hcr_loss, mhe_energy
from hyperssl.regularizers import HCR, MHE


def _net(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU()), nn.Linear(5, 3)


def test_hcr_update_takes_one_sgd_step_on_the_weighted_loss():
    backbone, classifier = _net()
    features = backbone(torch.randn(8, 6))
    logits, projections = classifier(features), torch.randn(8, 4)
    weight, lr = 2.0, 0.1
    loss = weight * hcr_loss(logits, projections)
    grads = torch.autograd.grad(loss, list(classifier.parameters()), retain_graph=True)
    expected = [p.detach() - lr * g for p, g in zip(classifier.parameters(), grads, strict=True)]
    HCR(classifier, lr, weight=weight).update(logits, projections)
    for param, value in zip(classifier.parameters(), expected, strict=True):
        torch.testing.assert_close(param.detach(), value)


def test_hcr_update_changes_neither_backbone_nor_existing_gradients():
    backbone, classifier = _net(1)
    logits = classifier(backbone(torch.randn(8, 6)))
    logits.sum().backward(retain_graph=True)
    before = {name: p.detach().clone() for name, p in backbone.named_parameters()}
    grads = [p.grad.clone() for p in [*backbone.parameters(), *classifier.parameters()]]
    HCR(classifier, lr=0.5).update(logits, torch.randn(8, 4))
    for name, param in backbone.named_parameters():
        torch.testing.assert_close(param.detach(), before[name])
    after = [p.grad for p in [*backbone.parameters(), *classifier.parameters()]]
    for old, new in zip(grads, after, strict=True):
        torch.testing.assert_close(new, old)


def test_hcr_update_after_the_main_optimizer_step_raises():
    """The documented pitfall: the main step modifies the classifier the graph depends on."""
    backbone, classifier = _net(2)
    optimizer = torch.optim.SGD([*backbone.parameters(), *classifier.parameters()], lr=0.1)
    logits = classifier(backbone(torch.randn(8, 6)))
    logits.square().sum().backward(retain_graph=True)
    optimizer.step()
    with pytest.raises(RuntimeError, match="inplace"):
        HCR(classifier, lr=0.1).update(logits, torch.randn(8, 4))


def test_hcr_update_returns_the_weighted_loss_before_the_step():
    _, classifier = _net(3)
    features, projections = torch.randn(6, 5), torch.randn(6, 4)
    expected = 3.0 * hcr_loss(classifier(features), projections).item()
    got = HCR(classifier, lr=0.1, weight=3.0).update(classifier(features), projections)
    assert got.item() == pytest.approx(expected)


def _cnn() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.Conv2d(4, 4, 3),
        nn.Conv2d(4, 4, 3),
        nn.Flatten(),
        nn.Linear(4, 6),
        nn.Linear(6, 5),
    )


@pytest.mark.parametrize(("power", "hidden", "final"), [("0", 1.0, 10.0), ("a2", 0.1, 1.0)])
def test_mhe_defaults_to_reference_coefficients_and_last_linear_as_final(power, hidden, final):
    model = _cnn()
    regularizer = MHE(model, power=power, half_space=True)
    assert regularizer.final_name == "5"
    assert regularizer.hidden_names == ("0", "1", "2", "4")
    layers = [model[i].weight for i in (0, 1, 2, 4)]
    expected = hidden * sum(mhe_energy(w, power, half_space=True) for w in layers)
    expected = expected + final * mhe_energy(model[5].weight, power, half_space=False)
    assert regularizer().item() == pytest.approx(expected.item(), rel=1e-6)


def test_mhe_selects_layers_by_name_prefix_and_filter():
    model = nn.Sequential()
    model.add_module("backbone", _cnn()[:3])
    model.add_module("head", nn.Linear(4, 2))
    by_prefix = MHE(model, layers=["backbone"])
    assert by_prefix.hidden_names == ("backbone.0", "backbone.1", "backbone.2")
    assert by_prefix.final_name is None
    by_filter = MHE(model, layer_filter=lambda name, module: isinstance(module, nn.Conv2d))
    assert by_filter.hidden_names == by_prefix.hidden_names


def test_mhe_named_final_layer_uses_final_weight_and_full_space():
    model = _cnn()
    regularizer = MHE(
        model, power="1", half_space=True, weight=0.0, final_weight=2.0, final_layer="0"
    )
    expected = 2.0 * mhe_energy(model[0].weight, "1", half_space=False)
    assert regularizer().item() == pytest.approx(expected.item(), rel=1e-6)


def test_mhe_gradient_reaches_every_selected_layer():
    model = _cnn()
    MHE(model, power="a0")().backward()
    for index in (0, 1, 2, 4, 5):
        assert model[index].weight.grad.abs().sum() > 0
        assert model[index].bias.grad is None


def test_mhe_does_not_register_the_model():
    regularizer = MHE(_cnn())
    assert list(regularizer.parameters()) == [] and regularizer.state_dict() == {}


def test_mhe_selecting_no_layer_raises_config_error():
    with pytest.raises(ConfigError) as info:
        MHE(_cnn(), layers=["projector"])
    assert info.value.key == "layers"


def test_mhe_unknown_final_layer_raises_config_error():
    with pytest.raises(ConfigError) as info:
        MHE(_cnn(), final_layer="classifier")
    assert info.value.key == "final_layer"


def test_mhe_unknown_power_raises_config_error():
    with pytest.raises(ConfigError, match="power"):
        MHE(_cnn(), power="4")
