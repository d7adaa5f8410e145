"""The heads keep the losses' precision: float64 in, float64 out
(the loss function's value), half precision in, float32 out."""

import pytest
import torch
from torch import nn

from hyperssl.heads.base import StepOutput
from hyperssl.heads.registry import build_head
from hyperssl.losses import align_loss, hcr_loss, mhe_embedding_energy, uniform_loss
from hyperssl.regularizers import MHE


def _views(dtype: torch.dtype) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(6, 5, generator=generator, dtype=torch.float64).to(dtype) for _ in "ab"]


def _step(dtype: torch.dtype) -> StepOutput:
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(12, 4, generator=generator, dtype=torch.float64).to(dtype)
    return StepOutput(labels=torch.zeros(6, dtype=torch.long), z=_views(dtype), logits=logits)


def _expected(name: str, z: list[torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
    if name == "uniformity":
        return (uniform_loss(z[0]) + uniform_loss(z[1])) / 2
    if name == "align_uniform":
        return align_loss(z[0], z[1]) + (uniform_loss(z[0]) + uniform_loss(z[1])) / 2
    if name == "mhe":
        return (mhe_embedding_energy(z[0]) + mhe_embedding_energy(z[1])) / 2
    if name == "cross_entropy":  # every label is 0, no smoothing
        return -torch.log_softmax(logits, dim=1)[:, 0].mean()
    return hcr_loss(logits[:6], z[0])


HEADS = {
    "uniformity": {},
    "align_uniform": {},
    "mhe": {"target": "embeddings"},
    "hcr": {},
    "cross_entropy": {},
}


@pytest.mark.parametrize("name", HEADS)
def test_head_of_float64_step_is_the_float64_loss(name):
    out = _step(torch.float64)
    loss = build_head(name, HEADS[name])(out)
    assert loss.dtype == torch.float64
    expected = _expected(name, out.z, out.logits)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", HEADS)
def test_head_of_half_precision_step_is_float32(name, dtype):
    out = _step(dtype)
    loss = build_head(name, HEADS[name])(out)
    assert loss.dtype == torch.float32
    expected = _expected(name, [z.float() for z in out.z], out.logits.float())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_mhe_weights_head_of_float64_model_is_the_float64_energy():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    head = build_head("mhe", {"layers": ["0", "2"]})
    loss = head(StepOutput(labels=torch.zeros(1), model=model))
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(MHE(model, layers=["0", "2"])().item(), rel=1e-12)
