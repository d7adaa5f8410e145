"""What every registered geometry must satisfy, parametrised over the registry: a geometry is
tested the moment its file exists."""

import math

import pytest
import torch
import torch.nn.functional as F
from geometry_references import reference_byol, reference_info_nce_queue, reference_nt_xent

from hyperssl import ConfigError
from hyperssl.geometries import GEOMETRIES, Geometry, create_geometry
from hyperssl.losses import byol_loss, info_nce, info_nce_queue, nt_xent, nt_xent_views

NAMES = GEOMETRIES.names()


def _rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64).to(dtype)


def _cosines(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Inside (-1, 1), away from the clamp of singular geometries."""
    return torch.linspace(-0.999, 0.999, 37, dtype=dtype)


def _raw_cosines(dtype: torch.dtype) -> torch.Tensor:
    """Inside (-1, 1), and the floats next to ±1 where a clamp at 1 - ε starts (1 - kε/2 for
    k = 0..4), with the rounding errors of a product of unit vectors beyond ±1 (1 + ε)."""
    eps = torch.finfo(dtype).eps
    edge = torch.tensor([1.0 - k * eps / 2 for k in range(5)] + [1.0 + eps], dtype=dtype)
    return torch.cat([_cosines(dtype), edge, -edge])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_kernel_derivative_of_raw_cosines_equals_autograd_derivative_of_similarity(name, dtype):
    """The kernels take the derivative before the clamp: it must be autograd's through it."""
    geometry = create_geometry(name)
    cos = _raw_cosines(dtype).requires_grad_(True)
    (expected,) = torch.autograd.grad(geometry.similarity(cos).sum(), cos)
    weight = geometry.derivative(cos.detach().clone())
    got = geometry.derivative_scale * (torch.ones_like(cos) if weight is None else weight)
    # float32: 1 - cos² cancels near ±1, where a fused multiply-add and a rounded cos² differ.
    rtol = 1e-12 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(got, expected, rtol=rtol, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_kernel_derivative_leaves_the_cosines_as_they_are(name):
    geometry = create_geometry(name)
    block = _cosines()
    geometry.derivative(block)
    assert torch.equal(block, _cosines())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_kernel_logits_are_similarity_minus_offset_over_temperature(name, dtype, tol):
    geometry = create_geometry(name)
    cos = _cosines(dtype)
    expected = (geometry.similarity(cos) - geometry.offset) / 0.2
    got = geometry.logits_(geometry.clamp_(cos.clone()), 1 / 0.2)
    torch.testing.assert_close(got, expected, rtol=0, atol=tol)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_kernel_derivative_is_finite_at_and_beyond_plus_and_minus_one(name, dtype):
    geometry = create_geometry(name)
    weight = geometry.derivative(_raw_cosines(dtype))
    assert weight is None or torch.isfinite(weight).all()


@pytest.mark.parametrize("name", NAMES)
def test_similarity_increases_with_the_cosine_and_squared_distance_decreases_to_zero(name):
    geometry = create_geometry(name)
    cos = _cosines()
    assert (geometry.similarity(cos).diff() > 0).all()
    distance = geometry.squared_distance(torch.cat([cos, torch.ones(1, dtype=cos.dtype)]))
    assert (distance.diff() < 0).all()
    assert distance[-1].item() == pytest.approx(0.0, abs=1e-12)


def _values_and_grads(loss_fn, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    loss = loss_fn(*leaves)
    return [loss.detach(), *torch.autograd.grad(loss, leaves)]


def _assert_all_close(got: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("num_views", [2, 3])
def test_nt_xent_views_equals_autograd_reference(name, num_views):
    """The reference is SupCon's L_out, the ``mean_log_prob`` rule."""
    geometry = create_geometry(name)
    views = [_rows(5, 4, seed) for seed in range(num_views)]
    _assert_all_close(
        _values_and_grads(lambda *v: nt_xent_views(v, 0.3, name, "mean_log_prob"), views),
        _values_and_grads(lambda *v: reference_nt_xent(list(v), 0.3, geometry), views),
    )


@pytest.mark.parametrize("name", NAMES)
def test_info_nce_queue_equals_autograd_reference(name):
    """The loss normalizes the queue, so the reference gets its normalized rows."""
    geometry = create_geometry(name)
    q, k, queue = _rows(4, 5, 10), _rows(4, 5, 11), _rows(9, 5, 12)

    def reference(q: torch.Tensor, queue: torch.Tensor) -> torch.Tensor:
        return reference_info_nce_queue(q, k, F.normalize(queue, dim=1), 0.2, geometry)

    _assert_all_close(
        _values_and_grads(lambda q, queue: info_nce_queue(q, k, queue, 0.2, name), [q, queue]),
        _values_and_grads(reference, [q, queue]),
    )


@pytest.mark.parametrize("name", NAMES)
def test_byol_loss_equals_autograd_reference(name):
    geometry = create_geometry(name)
    p, z = _rows(6, 5, 13), _rows(6, 5, 14)
    _assert_all_close(
        _values_and_grads(lambda p: byol_loss(p, z, name), [p]),
        _values_and_grads(lambda p: reference_byol(p, z, geometry), [p]),
    )


# Input dtype, and whether the loss runs under bfloat16 autocast (a mixed-precision step).
PRECISIONS = {
    "float16": (torch.float16, False),
    "bfloat16": (torch.bfloat16, False),
    "float32": (torch.float32, False),
    "float32_under_bf16_autocast": (torch.float32, True),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_grads_finite_for_duplicated_and_antipodal_rows(name, precision):
    dtype, autocast = PRECISIONS[precision]
    base = F.normalize(_rows(3, 8, 15), dim=1).to(dtype)
    rows = torch.cat([base, base[:1], -base[:1]])  # row 0 three times: as is, twice, negated
    losses = {
        "nt_xent": lambda z: nt_xent(z, z.detach().clone(), 0.2, name),
        "info_nce_queue": lambda z: info_nce_queue(z, z, torch.cat([z, -z]).detach(), 0.2, name),
        "info_nce": lambda z: info_nce(z, z, 0.2, name),
        "byol_loss": lambda z: byol_loss(z, torch.cat([z[:4], -z[4:]]).detach(), name),
    }
    for loss_name, loss_fn in losses.items():
        z = rows.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(z)
        loss.backward()
        assert loss.dtype == torch.float32, loss_name
        assert torch.isfinite(loss) and torch.isfinite(z.grad.float()).all(), loss_name


@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda z, geometry: nt_xent(z, z, 0.2, geometry),
        lambda z, geometry: info_nce_queue(z, z, z, 0.2, geometry),
        lambda z, geometry: info_nce(z, z, 0.2, geometry),
        lambda z, geometry: byol_loss(z, z, geometry),
    ],
    ids=["nt_xent", "info_nce_queue", "info_nce", "byol_loss"],
)
def test_unknown_geometry_is_a_config_error_listing_the_registered_ones(loss_fn):
    with pytest.raises(ConfigError) as info:
        loss_fn(_rows(2, 3, 16), "hyperbolic")
    assert info.value.key == "geometry"
    assert info.value.allowed == ", ".join(NAMES)
    assert "'hyperbolic'" in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_a_name_its_config_and_its_object_give_the_same_loss(name):
    z1, z2 = _rows(4, 3, 17), _rows(4, 3, 18)
    geometry = create_geometry(name)
    by_name = nt_xent(z1, z2, 0.2, name).item()
    assert nt_xent(z1, z2, 0.2, geometry).item() == by_name
    assert nt_xent(z1, z2, 0.2, {"name": name}).item() == by_name
    assert nt_xent(z1, z2, 0.2, GEOMETRIES.schema(name)(name=name)).item() == by_name


@pytest.mark.parametrize("name", NAMES)
def test_schema_default_name_is_the_registered_name(name):
    """So that ``create_geometry(SchemaConfig())`` is the geometry of the schema."""
    assert GEOMETRIES.schema(name)().name == name


@pytest.mark.parametrize("name", NAMES)
def test_create_geometry_of_a_name_is_one_cached_object_with_the_schema_defaults(name):
    geometry = create_geometry(name)
    assert isinstance(geometry, Geometry)
    assert create_geometry(name) is geometry and create_geometry(geometry) is geometry
    assert geometry.name == name
    assert geometry.config == GEOMETRIES.typed(name, None, "geometry")


def test_create_geometry_rejects_an_unknown_key_naming_it():
    with pytest.raises(ConfigError) as info:
        create_geometry({"name": "cosine", "kappa": 2.0})
    assert info.value.key == "geometry.kappa"
    assert info.value.allowed == "name"


def test_geodesic_kernel_logits_are_minus_angle_over_pi_t():
    geodesic = create_geometry("geodesic")
    cos = torch.tensor([1.0, 0.0, -0.5], dtype=torch.float64)
    logits = geodesic.logits_(geodesic.clamp_(cos.clone()), 2.0)
    eps_angle = math.acos(1 - torch.finfo(torch.float64).eps)
    expected = [-eps_angle * 2 / math.pi, -0.5 * 2, -(2 / 3) * 2]
    assert logits.tolist() == pytest.approx(expected, rel=1e-12)
