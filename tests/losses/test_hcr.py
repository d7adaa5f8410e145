"""HCR's loss against a loop transcribing the reference formula, and where its gradient flows."""

import math

import pytest
import torch
import torch.nn.functional as F

from hyperssl.losses import hcr_loss


def _rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64).to(dtype)


def _kernel(x: torch.Tensor) -> list[list[float]]:
    rows = []
    for row in x.tolist():
        norm = math.sqrt(sum(a * a for a in row))
        rows.append([a / norm for a in row])
    kernel = []
    for i, a in enumerate(rows):
        kernel.append([])
        for j, b in enumerate(rows):
            sq_dist = sum((p - q) ** 2 for p, q in zip(a, b, strict=True))
            sq_dist = 0.0 if i == j else max(sq_dist, 1e-12)
            kernel[-1].append(math.exp(-sq_dist))
    return kernel


def _loop_hcr(logits: torch.Tensor, projections: torch.Tensor) -> float:
    target, prob = _kernel(logits), _kernel(projections)
    total, n = 0.0, logits.shape[0]
    for i in range(n):
        for j in range(n):
            log_p = max(math.log(prob[i][j]), -100.0)
            log_1mp = max(math.log(1 - prob[i][j]), -100.0) if prob[i][j] < 1 else -100.0
            total += -(target[i][j] * log_p + (1 - target[i][j]) * log_1mp)
    return total / (n * n)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("batch", "classes", "dim"), [(2, 3, 4), (6, 10, 5)])
def test_hcr_loss_matches_reference_loop(dtype, batch, classes, dim):
    logits, projections = _rows(batch, classes, 0, dtype), _rows(batch, dim, 1, dtype)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    expected = _loop_hcr(logits, projections)
    assert hcr_loss(logits, projections).item() == pytest.approx(expected, abs=tol)


def test_hcr_loss_is_torch_bce_with_projection_kernel_as_input():
    logits, projections = _rows(5, 4, 2), _rows(5, 3, 3)

    def kernel(x):
        x = F.normalize(x, dim=1)
        return torch.exp(-torch.cdist(x, x).square().clamp_min(1e-12).fill_diagonal_(0))

    expected = F.binary_cross_entropy(kernel(projections), kernel(logits))
    assert hcr_loss(logits, projections).item() == pytest.approx(expected.item(), abs=1e-12)


def test_hcr_gradient_flows_only_through_the_logits():
    logits = _rows(4, 3, 4).requires_grad_(True)
    projections = _rows(4, 5, 5).requires_grad_(True)
    hcr_loss(logits, projections).backward()
    assert projections.grad is None
    assert logits.grad.abs().sum() > 0


def test_hcr_loss_pulls_logits_together_where_projections_coincide():
    """dloss/dK(logits)_ij = -log(K_p / (1 - K_p)) / B² < 0 when K_p > 1/2: K(logits) rises."""
    projections = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=0.5)
    before = F.cosine_similarity(logits[0], logits[1], dim=0).item()
    for _ in range(20):
        optimizer.zero_grad()
        hcr_loss(logits, projections).backward()
        optimizer.step()
    assert F.cosine_similarity(logits[0], logits[1], dim=0).item() > before + 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_hcr_loss_grad_finite_for_duplicated_and_antipodal_rows(dtype):
    base = _rows(3, 4, 6, dtype)
    logits = torch.cat([base, base[:1], -base[:1]]).requires_grad_(True)
    projections = torch.cat([_rows(3, 5, 7, dtype)[:1].expand(2, 5), _rows(3, 5, 8, dtype)])
    loss = hcr_loss(logits, projections)
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(logits.grad.float()).all()


def test_hcr_loss_under_bfloat16_autocast_is_float32():
    classifier = torch.nn.Linear(6, 4)
    features, projections = _rows(5, 6, 9, torch.float32), _rows(5, 3, 10, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = classifier(features)
        loss = hcr_loss(logits, projections)
    loss.backward()
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(hcr_loss(logits.float(), projections).item())
    assert torch.isfinite(classifier.weight.grad).all()


def test_hcr_loss_of_raw_rows_equals_loss_of_normalized_rows():
    logits, projections = _rows(5, 4, 11), _rows(5, 3, 12)
    scales = torch.logspace(-3, 3, 5, dtype=torch.float64)[:, None]
    expected = hcr_loss(F.normalize(logits, dim=1), F.normalize(projections, dim=1)).item()
    got = hcr_loss(logits * scales, projections * scales.flip(0)).item()
    assert got == pytest.approx(expected, rel=1e-12)
