"""Alignment and uniformity in float32 at near-duplicate rows, against float64 sums over every
pair's difference.

The Gram expansion 2 - 2 x_i·x_j cancels for rows ~1e-5 apart: in float32 its error (~2e-7) is
larger than the squared distance, and clamping it at 0 loses the gradient of those pairs. A
float32 normalization rounds each component by ~6e-8, also large against such a distance.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from hyperssl.losses import align_loss, uniform_loss, uniform_loss_with_queue


def _unit(n: int, d: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=generator, dtype=torch.float64), dim=1)


def _jitter(x: torch.Tensor, distance: float, seed: int) -> torch.Tensor:
    """Each row of x moved ~``distance`` in a random direction, back on the sphere."""
    generator = torch.Generator().manual_seed(seed)
    step = F.normalize(torch.randn(x.shape, generator=generator, dtype=torch.float64), dim=1)
    return F.normalize(x + distance * step, dim=1)


def _plain_uniform(
    x: torch.Tensor, t: float, queue: torch.Tensor | None = None, intra_batch: bool = True
) -> torch.Tensor:
    """log of the mean of exp(-t d²) over the pairs, d² summed from each pair's difference."""
    x = F.normalize(x, dim=1)
    sq_dists = []
    if queue is not None:
        keys = F.normalize(queue, dim=1)
        sq_dists.append((x[:, None] - keys[None]).square().sum(dim=-1).flatten())
    if intra_batch:
        rows, cols = torch.triu_indices(len(x), len(x), offset=1)
        sq_dists.append((x[rows] - x[cols]).square().sum(dim=-1))
    sq_dist = torch.cat(sq_dists)
    return torch.logsumexp(-t * sq_dist, dim=0) - math.log(sq_dist.numel())


def _value_and_grad(loss, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    value = loss(x)
    value.backward()
    return value.item(), x.grad


def _relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got.double() - expected).norm() / expected.norm()).item()


@pytest.mark.parametrize("alpha", [2.0, 1.0])
def test_align_loss_float32_value_and_grad_match_float64_for_pairs_1e5_apart(alpha):
    x = _unit(16, 32, 13)
    y = _jitter(x, 1e-5, 14).float()
    x = x.float()

    def plain(v: torch.Tensor) -> torch.Tensor:
        diff = F.normalize(v, dim=1) - F.normalize(y.double(), dim=1)
        return diff.norm(dim=1).pow(alpha).mean()

    expected, expected_grad = _value_and_grad(plain, x.double())
    got, grad = _value_and_grad(lambda v: align_loss(v, y, alpha), x)
    assert got == pytest.approx(expected, rel=1e-6)
    assert _relative_error(grad, expected_grad) < 2e-6


def _collapsed() -> torch.Tensor:
    """Eight rows within ~1e-5 of one point, one of them twice: every pair is near."""
    rows = _jitter(_unit(1, 32, 0).expand(8, 32), 1e-5, 1)
    return torch.cat([rows, rows[:1]])


def _near_duplicate_pairs() -> torch.Tensor:
    """Sixteen spread rows, each with a copy 1e-5 away; two of them also duplicated exactly."""
    rows = _unit(16, 32, 2)
    return torch.cat([rows, _jitter(rows, 1e-5, 3), rows[:2]])


@pytest.mark.parametrize(
    ("batch", "t"), [(_collapsed, 2.0), (_collapsed, 0.5), (_near_duplicate_pairs, 2.0)]
)
def test_uniform_loss_float32_value_and_grad_match_float64_at_near_duplicates(batch, t):
    """Measured: relative gradient error <= 4e-7; the plain expansion clamped at 0 is off by
    0.88 for the collapsed batch, 3.1e-5 for the pairs (whose gradient the far pairs dominate:
    2.7e-6 at t = 0.5)."""
    x = batch().float()
    expected, expected_grad = _value_and_grad(lambda v: _plain_uniform(v, t), x.double())
    got, grad = _value_and_grad(lambda v: uniform_loss(v, t), x)
    assert got == pytest.approx(expected, abs=1e-6)
    assert _relative_error(grad, expected_grad) < 2e-6


@pytest.mark.parametrize("intra_batch", [True, False])
def test_uniform_loss_with_queue_float32_matches_float64_at_near_duplicate_keys(intra_batch):
    """The queue holds copies of the queries 1e-5 away and one exact copy."""
    x = _unit(8, 32, 4)
    queue = torch.cat([_jitter(x, 1e-5, 5), x[:1], _unit(8, 32, 6)]).float()
    x = x.float()

    def plain(v: torch.Tensor) -> torch.Tensor:
        return _plain_uniform(v, 2.0, queue.double(), intra_batch)

    expected, expected_grad = _value_and_grad(plain, x.double())
    got, grad = _value_and_grad(lambda v: uniform_loss_with_queue(v, queue, 2.0, intra_batch), x)
    assert got == pytest.approx(expected, abs=1e-6)
    assert _relative_error(grad, expected_grad) < 2e-6


def test_uniform_loss_grad_of_identical_rows_is_zero():
    x = _unit(1, 16, 7).float().expand(6, 16).clone().requires_grad_(True)
    loss = uniform_loss(x)
    loss.backward()
    assert loss.item() == 0.0 and x.grad.abs().max().item() == 0.0


def test_uniform_loss_at_batch_4096_in_float32_matches_float64():
    """B = 4096, D = 128: one [B, B] matrix from a matmul, plus 5 recomputed entries per row.
    Rows 1..8 are copies of rows 0..7 1e-5 away; the float64 expansion is the reference here
    (its error, ~1e-16, is far below the 1e-10 squared distances). Measured: 6e-6, the float32
    sums over 4096 partners (~ε√B); 0.45 s for forward and backward on two CPU cores."""
    rows = _unit(4096, 128, 8)
    rows[1:9] = _jitter(rows[:8], 1e-5, 9)
    x = rows.float()

    def float64_expansion(v: torch.Tensor) -> torch.Tensor:
        v = F.normalize(v, dim=1)
        logits = (2.0 - 2.0 * v @ v.T).mul(-2.0).fill_diagonal_(-math.inf)
        return torch.logsumexp(logits.flatten(), dim=0) - math.log(4096 * 4095)

    expected, expected_grad = _value_and_grad(float64_expansion, x.double())
    got, grad = _value_and_grad(uniform_loss, x)
    assert got == pytest.approx(expected, rel=1e-6)
    assert _relative_error(grad, expected_grad) < 2e-5


@pytest.mark.parametrize("with_queue", [False, True])
def test_uniform_loss_gradcheck_at_near_duplicates(with_queue):
    rows = _unit(3, 8, 10)
    x = torch.cat([rows, _jitter(rows, 1e-5, 11), rows[:1]]).requires_grad_(True)
    queue = torch.cat([_jitter(rows, 1e-5, 12), _unit(3, 8, 13)])

    def loss(v: torch.Tensor) -> torch.Tensor:
        return uniform_loss_with_queue(v, queue) if with_queue else uniform_loss(v)

    assert torch.autograd.gradcheck(loss, (x,))


class _HostReads(TorchDispatchMode):
    """Records the aten ops that read a device value on the host (they stall a GPU's queue)."""

    READS = frozenset({"_local_scalar_dense", "is_nonzero", "nonzero", "masked_select", "equal"})

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in self.READS:
            self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def test_losses_and_their_gradients_read_nothing_back_to_the_host():
    x = _near_duplicate_pairs().float().requires_grad_(True)
    queue = _jitter(x.detach().double(), 1e-5, 14).float()
    with _HostReads() as reads:
        loss = uniform_loss(x) + uniform_loss_with_queue(x, queue) + align_loss(x, queue, 1.0)
        loss.backward()
    assert reads.ops == []
