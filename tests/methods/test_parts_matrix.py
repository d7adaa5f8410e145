"""Every registered method with every registered geometry and every registered head whose inputs
it produces: one training step gives a finite value per head and finite gradients. Parametrised
over the registries, so a new part is tested the moment its file exists."""

import math

import pytest
import torch
from hydra_runs import TINY, compose_pretrain
from method_overrides import small
from method_steps import training_step

from hyperssl.geometries import GEOMETRIES
from hyperssl.heads import HEADS
from hyperssl.methods import METHODS, BaseMethod, create_method

# The supervised method gets its projection head, so that the heads reading z apply to it too.
WITH_Z = {"supervised": ["method.use_projector=true"]}


def method_overrides(method: str) -> list[str]:
    return [*small(method), *WITH_Z.get(method, [])]


def compatible_heads(method: str, tmp_path) -> list[str]:
    model = create_method(compose_pretrain([*TINY, *method_overrides(method)], tmp_path))
    return [entry.name for entry in HEADS if set(entry.target.inputs) <= model.produces]


def with_every_compatible_head(method: str, geometry: str, tmp_path) -> BaseMethod:
    heads = compatible_heads(method, tmp_path / "probe")
    overrides = [*TINY, *method_overrides(method), f"geometry={geometry}"]
    model = create_method(compose_pretrain([*overrides, f"heads=[{','.join(heads)}]"], tmp_path))
    assert model.head_names[1:] == heads and len(set(model.head_names)) == len(heads) + 1
    return model


def assert_backbone_gradients_are_finite(model: BaseMethod) -> None:
    grads = [p.grad for p in model.backbone.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("method", METHODS.names())
def test_one_step_of_every_compatible_head_is_finite(method, geometry, tmp_path):
    model = with_every_compatible_head(method, geometry, tmp_path)
    loss, logged = training_step(model)
    loss.backward()

    for name in model.head_names:
        assert math.isfinite(logged[f"train/{name}"].item()), name
    assert_backbone_gradients_are_finite(model)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("method", METHODS.names())
def test_one_step_on_cuda_under_autocast_keeps_every_head_float32_and_finite(
    method, geometry, dtype, tmp_path
):
    """CUDA's autocast runs far more ops in half precision than the CPU's (the losses' tests
    use the CPU's); in float16, exp(logits / T) overflows unless the loss computes in float32."""
    model = with_every_compatible_head(method, geometry, tmp_path).cuda()
    with torch.autocast("cuda", dtype=dtype):
        loss, logged = training_step(model, device="cuda")
    loss.backward()
    for name in model.head_names:
        value = logged[f"train/{name}"]
        assert value.dtype == torch.float32 and torch.isfinite(value), (name, value)
    assert_backbone_gradients_are_finite(model)
