import math

import pytest
import torch
import torch.nn.functional as F
from loop_formulas import FORMULAS

from hyperssl.geometries import GEOMETRIES
from hyperssl.losses import info_nce


def reference_info_nce(q, k, temperature, geometry):
    """Row by row from MoCo v3's definition: -log softmax_j(s(q_i, k_j)/T) at j = i."""
    q, k = F.normalize(q.double(), dim=1), F.normalize(k.double(), dim=1)
    total = 0.0
    for i in range(len(q)):
        sims = [FORMULAS[geometry](float(q[i] @ k[j])) for j in range(len(k))]
        logits = [s / temperature for s in sims]
        total += math.log(sum(math.exp(v) for v in logits)) - logits[i]
    return total / len(q)


@pytest.mark.parametrize("geometry", FORMULAS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_info_nce_matches_the_definition(geometry, dtype):
    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 5, generator=generator), torch.randn(6, 5, generator=generator)
    value = info_nce(q.to(dtype), k.to(dtype), 0.3, geometry)
    assert value.item() == pytest.approx(reference_info_nce(q, k, 0.3, geometry), rel=1e-5)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_info_nce_gradient_is_finite_for_identical_queries_and_keys(geometry):
    q = torch.randn(4, 8).repeat(2, 1).requires_grad_()
    info_nce(q, q.detach().clone(), 0.2, geometry).backward()
    assert torch.isfinite(q.grad).all()


def test_info_nce_is_float32_under_bf16_autocast():
    q = torch.randn(4, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = info_nce(q.bfloat16(), torch.randn(4, 8).bfloat16(), 0.2, "geodesic")
    assert value.dtype == torch.float32
    value.backward()
    assert torch.isfinite(q.grad).all()
