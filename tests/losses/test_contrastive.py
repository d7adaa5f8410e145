"""NT-Xent and InfoNCE-with-queue against loops written from the papers' formulas."""

import math

import pytest
import torch
import torch.nn.functional as F
from loop_formulas import FORMULAS
from loop_formulas import rows as _rows
from loop_formulas import sim as _sim
from loop_formulas import unit as _unit

from hyperssl import ConfigError
from hyperssl.geometries import GEOMETRIES
from hyperssl.losses import contrastive, info_nce_queue, nt_xent, nt_xent_views
from hyperssl.losses.contrastive import NT_XENT_POSITIVES


def _loop_nt_xent(
    views: list[torch.Tensor], temperature: float, geometry: str, positives: str = "log_sum_prob"
) -> float:
    """With the views of a sample as its class and p_ip the softmax probability of positive p:
    minus the log of Σ_p p_ip (solo-learn, ``log_sum_prob``) or the mean of -log p_ip (SupCon's
    L_out, ``mean_log_prob``); both are SimCLR's NT-Xent for V = 2."""
    batch = views[0].shape[0]
    points = [(v, b, _unit(view[b].tolist())) for v, view in enumerate(views) for b in range(batch)]
    total = 0.0
    for i, (v_i, b_i, z_i) in enumerate(points):
        denominator = sum(
            math.exp(_sim(z_i, z_k, geometry) / temperature)
            for k, (_, _, z_k) in enumerate(points)
            if k != i
        )
        probabilities = [
            math.exp(_sim(z_i, z_p, geometry) / temperature) / denominator
            for (v_p, b_p, z_p) in points
            if b_p == b_i and v_p != v_i
        ]
        if positives == "log_sum_prob":
            total += -math.log(sum(probabilities))
        else:
            total += -sum(math.log(p) for p in probabilities) / len(probabilities)
    return total / len(points)


def _loop_info_nce(q, k, queue, temperature: float, geometry: str) -> float:
    """MoCo's cross-entropy with target 0 over [positive, queue], every row normalized."""
    total = 0.0
    negatives = [_unit(n) for n in queue.tolist()]
    for q_i, k_i in zip(q.tolist(), k.tolist(), strict=True):
        q_i, k_i = _unit(q_i), _unit(k_i)
        logits = [_sim(q_i, k_i, geometry) / temperature]
        logits += [_sim(q_i, n, geometry) / temperature for n in negatives]
        total += -math.log(math.exp(logits[0]) / sum(math.exp(x) for x in logits))
    return total / q.shape[0]


@pytest.mark.parametrize("geometry", FORMULAS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("batch", "dim", "temperature"), [(1, 3, 0.5), (4, 5, 0.2), (6, 2, 0.1)])
def test_nt_xent_two_views_matches_simclr_loop(geometry, dtype, batch, dim, temperature):
    z1, z2 = _rows(batch, dim, 0, dtype), _rows(batch, dim, 1, dtype)
    expected = _loop_nt_xent([z1, z2], temperature, geometry)
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    assert nt_xent(z1, z2, temperature, geometry).item() == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("geometry", FORMULAS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("num_views", [3, 4])
@pytest.mark.parametrize("positives", NT_XENT_POSITIVES)
def test_nt_xent_views_matches_loop_for_each_positives_rule(geometry, dtype, num_views, positives):
    views = [_rows(3, 4, seed, dtype) for seed in range(num_views)]
    expected = _loop_nt_xent(views, 0.3, geometry, positives)
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    got = nt_xent_views(views, 0.3, geometry, positives=positives).item()
    assert got == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("geometry", FORMULAS)
def test_nt_xent_views_default_is_minus_log_of_summed_positive_probability(geometry):
    """solo-learn's and GCL's rule; SupCon's L_out is not it for V > 2."""
    views = [_rows(3, 4, seed) for seed in range(3)]
    got = nt_xent_views(views, 0.3, geometry).item()
    assert got == pytest.approx(_loop_nt_xent(views, 0.3, geometry, "log_sum_prob"), abs=1e-10)
    assert got != pytest.approx(_loop_nt_xent(views, 0.3, geometry, "mean_log_prob"), abs=1e-3)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_nt_xent_positives_rules_are_the_same_loss_for_two_views(geometry):
    z1, z2 = _rows(5, 3, 34), _rows(5, 3, 35)
    values, grads = [], []
    for positives in NT_XENT_POSITIVES:
        views = [z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)]
        loss = nt_xent_views(views, 0.2, geometry, positives=positives)
        values.append(loss.item())
        grads.append(torch.cat(torch.autograd.grad(loss, views)))
    assert values[0] == values[1]
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-14, atol=1e-14)


def test_nt_xent_views_rejects_an_unknown_positives_rule_naming_the_allowed_ones():
    views = [_rows(2, 3, 36), _rows(2, 3, 37)]
    with pytest.raises(ValueError, match="'sum_log_prob'") as info:
        nt_xent_views(views, positives="sum_log_prob")
    assert "'log_sum_prob', 'mean_log_prob'" in str(info.value)


@pytest.mark.parametrize("geometry", FORMULAS)
def test_nt_xent_and_info_nce_queue_match_loops_at_temperature_0_01(geometry):
    z1, z2, queue = _rows(4, 3, 28), _rows(4, 3, 29), F.normalize(_rows(6, 3, 30), dim=1)
    expected = _loop_nt_xent([z1, z2], 0.01, geometry)
    assert nt_xent(z1, z2, 0.01, geometry).item() == pytest.approx(expected, rel=1e-10)
    expected = _loop_info_nce(z1, z2, queue, 0.01, geometry)
    assert info_nce_queue(z1, z2, queue, 0.01, geometry).item() == pytest.approx(
        expected, rel=1e-10
    )


@pytest.mark.parametrize("num_threads", [1, 8])
def test_geodesic_losses_agree_across_thread_counts(num_threads):
    """Below 8 threads the geodesic arccos runs in NumPy, from 8 on in torch."""
    z1, z2 = _rows(5, 4, 31, torch.float32), _rows(5, 4, 32, torch.float32)
    queue = F.normalize(_rows(7, 4, 33, torch.float32), dim=1)
    expected_nt = _loop_nt_xent([z1, z2], 0.2, "geodesic")
    expected_moco = _loop_info_nce(z1, z2, queue, 0.2, "geodesic")
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        nt = nt_xent(z1, z2, 0.2, "geodesic").item()
        moco = info_nce_queue(z1, z2, queue, 0.2, "geodesic").item()
    finally:
        torch.set_num_threads(previous)
    assert nt == pytest.approx(expected_nt, abs=2e-5)
    assert moco == pytest.approx(expected_moco, abs=2e-5)


@pytest.mark.parametrize("geometry", FORMULAS)
def test_losses_computed_in_row_blocks_match_loops_and_one_block_gradients(geometry, monkeypatch):
    """Blocks of 3 rows (the last one partial) give the loops' values and the gradients of the
    same losses computed in one block."""
    z1, z2 = _rows(5, 4, 41, torch.float64), _rows(5, 4, 42, torch.float64)
    queue = F.normalize(_rows(7, 4, 43, torch.float64), dim=1)

    def values_and_gradients():
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        nt = nt_xent(a, b, 0.2, geometry)
        moco = info_nce_queue(a, b, queue, 0.2, geometry)
        (nt + moco).backward()
        return nt.item(), moco.item(), a.grad, b.grad

    one_block = values_and_gradients()
    monkeypatch.setattr(contrastive, "BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(contrastive, "MIN_BLOCK_ROWS", 3)
    nt, moco, grad_a, grad_b = values_and_gradients()
    assert nt == pytest.approx(_loop_nt_xent([z1, z2], 0.2, geometry), abs=1e-10)
    assert moco == pytest.approx(_loop_info_nce(z1, z2, queue, 0.2, geometry), abs=1e-10)
    torch.testing.assert_close(grad_a, one_block[2], rtol=0, atol=1e-12)
    torch.testing.assert_close(grad_b, one_block[3], rtol=0, atol=1e-12)


def test_nt_xent_is_nt_xent_views_of_the_two_views():
    z1, z2 = _rows(5, 3, 2), _rows(5, 3, 3)
    assert nt_xent(z1, z2, 0.2).item() == nt_xent_views([z1, z2], 0.2).item()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("num_views", [2, 3, 4])
@pytest.mark.parametrize("positives", NT_XENT_POSITIVES)
def test_nt_xent_backward_passes_gradcheck(geometry, num_views, positives):
    views = [_rows(3, 3, seed).requires_grad_(True) for seed in range(num_views)]
    assert torch.autograd.gradcheck(
        lambda *v: nt_xent_views(v, 0.3, geometry, positives=positives), tuple(views)
    )


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_nt_xent_grad_finite_for_identical_views_and_duplicated_samples(geometry):
    base = _rows(3, 4, 4, torch.float32)
    z1 = torch.cat([base, base[:1]]).requires_grad_(True)  # sample 0 twice in the batch
    z2 = z1.detach().clone().requires_grad_(True)  # the second view equals the first
    nt_xent(z1, z2, 0.2, geometry).backward()
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_nt_xent_grad_finite_for_antipodal_views(geometry):
    z1 = _rows(4, 3, 5, torch.float32).requires_grad_(True)
    z2 = (-z1.detach()).requires_grad_(True)
    loss = nt_xent(z1, z2, 0.2, geometry)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_nt_xent_of_half_inputs_is_float32_with_finite_grad(geometry, dtype):
    z1 = _rows(4, 8, 6, dtype).requires_grad_(True)
    z2 = _rows(4, 8, 7, dtype).requires_grad_(True)
    loss = nt_xent(z1, z2, 0.2, geometry)
    loss.backward()
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(nt_xent(z1.float(), z2.float(), 0.2, geometry).item())
    assert z1.grad.dtype == dtype and torch.isfinite(z1.grad.float()).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_nt_xent_under_bfloat16_autocast_is_float32_with_finite_grad(geometry):
    projector = torch.nn.Linear(8, 6)
    x1, x2 = _rows(5, 8, 8, torch.float32), _rows(5, 8, 9, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z1, z2 = projector(x1), projector(x2)
        loss = nt_xent(z1, z2, 0.2, geometry)
    loss.backward()
    assert z1.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert loss.item() == pytest.approx(nt_xent(z1.float(), z2.float(), 0.2, geometry).item())
    assert torch.isfinite(projector.weight.grad).all()


def _near_orthogonal(n: int, epsilon: float) -> torch.Tensor:
    """n unit vectors in R^(2n) whose pairwise angles are π/2 + O(epsilon)."""
    basis = torch.linalg.qr(_rows(2 * n, n, 10))[0].T  # n orthonormal rows
    return F.normalize(basis + epsilon * _rows(n, 2 * n, 11), dim=1)


def test_geodesic_nt_xent_at_t_equals_cosine_nt_xent_at_pi_t_up_to_cubic_order():
    """With θ = π/2 + δ: cos θ = -sin δ = -δ + O(δ³) and 1 - θ/π = 1/2 - δ/π, so the geodesic
    logits at T are the cosine logits at πT plus the row constant 1/(2T) plus r with
    |r| = |δ - sin δ|/(πT) <= |δ|³/(6πT). The softmax ignores the constant, and the loss moves by
    at most 2 max|r|, so |geodesic(T) - cosine(πT)| <= max|δ|³/(3πT)."""
    temperature = 0.1
    differences = []
    for epsilon in (0.01, 0.005):
        z = _near_orthogonal(6, epsilon)
        z1, z2 = z[:3], z[3:]
        cos = (z @ z.T)[~torch.eye(6, dtype=torch.bool)]
        delta_max = (torch.acos(cos) - math.pi / 2).abs().max().item()
        geodesic = nt_xent(z1, z2, temperature, "geodesic").item()
        cosine = nt_xent(z1, z2, math.pi * temperature, "cosine").item()
        differences.append(abs(geodesic - cosine))
        assert differences[-1] <= delta_max**3 / (3 * math.pi * temperature)
        # Matching temperatures is what makes them agree: at the same T they differ at O(δ).
        assert abs(geodesic - nt_xent(z1, z2, temperature, "cosine").item()) > 100 * differences[-1]
    assert differences[0] / differences[1] == pytest.approx(8.0, rel=0.15)  # halving δ: /8


@pytest.mark.parametrize("geometry", FORMULAS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("batch", "size", "dim"), [(1, 1, 3), (3, 5, 4)])
def test_info_nce_queue_matches_moco_loop(geometry, dtype, batch, size, dim):
    q, k = _rows(batch, dim, 12, dtype), _rows(batch, dim, 13, dtype)
    queue = F.normalize(_rows(size, dim, 14, dtype), dim=1)
    expected = _loop_info_nce(q, k, queue, 0.2, geometry)
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    assert info_nce_queue(q, k, queue, 0.2, geometry).item() == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("geometry", FORMULAS)
def test_info_nce_queue_normalizes_the_queue(geometry):
    """Raw keys of norms 0.1 to 10 give the value of their unit rows and of the loop."""
    q, k = _rows(3, 4, 38), _rows(3, 4, 39)
    unit = F.normalize(_rows(6, 4, 40), dim=1)
    raw = unit * torch.logspace(-1, 1, 6, dtype=torch.float64)[:, None]
    got = info_nce_queue(q, k, raw, 0.2, geometry).item()
    assert got == pytest.approx(info_nce_queue(q, k, unit, 0.2, geometry).item(), abs=1e-12)
    assert got == pytest.approx(_loop_info_nce(q, k, raw, 0.2, geometry), abs=1e-10)


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_info_nce_queue_backward_passes_gradcheck(geometry):
    q, k = _rows(3, 4, 25).requires_grad_(True), _rows(3, 4, 26)
    queue = _rows(5, 4, 27).requires_grad_(True)  # raw rows: the gradient goes through F.normalize
    assert torch.autograd.gradcheck(
        lambda q, queue: info_nce_queue(q, k, queue, 0.3, geometry), (q, queue)
    )


def test_info_nce_queue_treats_keys_as_constants():
    q = _rows(3, 4, 15).requires_grad_(True)
    k = _rows(3, 4, 16).requires_grad_(True)
    info_nce_queue(q, k, F.normalize(_rows(5, 4, 17), dim=1)).backward()
    assert k.grad is None and torch.isfinite(q.grad).all()


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_info_nce_queue_grad_finite_when_key_and_queue_repeat_or_oppose_the_query(geometry):
    q = F.normalize(_rows(3, 4, 18, torch.float32), dim=1).requires_grad_(True)
    queue = torch.cat([q.detach(), -q.detach()])
    info_nce_queue(q, q.detach(), queue, 0.2, geometry).backward()
    assert torch.isfinite(q.grad).all()


def test_info_nce_queue_under_bfloat16_autocast_is_float32():
    q, k = _rows(3, 4, 19, torch.float32), _rows(3, 4, 20, torch.float32)
    queue = F.normalize(_rows(6, 4, 21, torch.float32), dim=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = info_nce_queue(q, k, queue, 0.2, "geodesic")
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(info_nce_queue(q, k, queue, 0.2, "geodesic").item())


def test_contrastive_losses_reject_unknown_geometry():
    z = _rows(2, 3, 22)
    with pytest.raises(ConfigError, match="geometry"):
        nt_xent(z, z, 0.2, "euclidean")
    with pytest.raises(ConfigError, match="geometry"):
        info_nce_queue(z, z, z, 0.2, "euclidean")


def test_nt_xent_views_needs_two_views_of_the_same_shape():
    with pytest.raises(ValueError, match="at least 2 views"):
        nt_xent_views([_rows(2, 3, 23)])
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_views([_rows(2, 3, 23), _rows(3, 3, 24)])


@pytest.mark.parametrize("geometry", GEOMETRIES.names())
def test_block_by_block_softmax_equals_the_whole_matrix_at_once(geometry, monkeypatch):
    """Blocks of 5 rows (not dividing N, so the last block is short) give the one-block values
    and gradients, for NT-Xent over 3 views (self-exclusion and positives per block) and for the
    MoCo queue."""
    generator = torch.Generator().manual_seed(0)
    views = [torch.randn(7, 6, generator=generator, dtype=torch.float64) for _ in range(3)]
    q, k = (torch.randn(7, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    queue = F.normalize(torch.randn(11, 6, generator=generator, dtype=torch.float64), dim=1)

    def values_and_grads():
        inputs = [view.clone().requires_grad_() for view in views]
        query = q.clone().requires_grad_()
        losses = [
            contrastive.nt_xent_views(inputs, 0.3, geometry),
            contrastive.info_nce_queue(query, k, queue, 0.3, geometry),
        ]
        sum(losses).backward()
        return [loss.detach() for loss in losses], [t.grad for t in [*inputs, query]]

    whole_losses, whole_grads = values_and_grads()
    monkeypatch.setattr(contrastive, "BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(contrastive, "MIN_BLOCK_ROWS", 5)
    block_losses, block_grads = values_and_grads()
    for block, whole in zip(block_losses + block_grads, whole_losses + whole_grads, strict=True):
        torch.testing.assert_close(block, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", ["nt_xent", "info_nce_queue"])
def test_small_losses_run_forward_and_backward_on_one_thread_on_cpu(loss, monkeypatch):
    """Small problems on one thread (a busy neighbour process stalls parallel regions); larger
    ones on torch's threads; the thread count is restored after either."""
    seen: list[int] = []
    real_mm = torch.mm

    def recording_mm(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_mm(*args, **kwargs)

    def run() -> list[int]:
        seen.clear()
        z1, z2 = _rows(4, 3, 51, torch.float32), _rows(4, 3, 52, torch.float32)
        z1.requires_grad_()
        if loss == "nt_xent":
            value = nt_xent(z1, z2)
        else:
            value = info_nce_queue(z1, z2, _rows(6, 3, 53, torch.float32))
        value.backward()
        return list(seen)

    monkeypatch.setattr(torch, "mm", recording_mm)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        small = run()
        monkeypatch.setattr(contrastive, "ONE_THREAD_ELEMENTS", 0)
        large = run()
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    assert small and set(small) == {1}  # the forward product (and NT-Xent's backward one)
    assert large and set(large) == {2}
    assert after == 2
