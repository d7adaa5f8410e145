"""The geometry registry (``geometry=<name>``), the :class:`Geometry` every geometry subclasses,
and :func:`create_geometry`, the one call that turns a name or a config into a geometry.

A geometry maps the cosine of the angle between two unit vectors to a similarity s(cos θ). The
losses compute cosines with one matrix product and leave the rest to the geometry, so a loss
written once works for every registered geometry, and a new geometry is one file::

    @dataclass
    class MyConfig(GeometryConfig):
        name: str = "mine"

    @register_geometry("mine", MyConfig)
    class MyGeometry(Geometry): ...  # similarity, squared_distance, logits_, derivative
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf
from torch import Tensor

from hyperssl.registry import Entry, PartConfig, Registry

GEOMETRIES: Registry = Registry("geometry", "geometry", "hyperssl.geometries", key="geometry")
register_geometry = GEOMETRIES.register


@dataclass
class GeometryConfig(PartConfig):
    """Base of the geometries' schemas: the registered name, then the geometry's own keys."""

    name: str = "cosine"


class Geometry(ABC):
    """How two points on the unit hypersphere compare, as a function of their cosine.

    Two views of the same similarity s(cos θ):

    - :meth:`similarity` and :meth:`squared_distance`: differentiable maps for autograd (the
      functional API of :mod:`hyperssl.geometry`, BYOL, MoCo v3);
    - :meth:`clamp_`, :meth:`logits_`, :meth:`derivative`, :attr:`offset` and
      :attr:`derivative_scale`: what the hand-written backward passes of the contrastive kernels
      (:mod:`hyperssl.losses.contrastive`) need, in place on blocks of cosines without grad.

    Every tensor method takes cosines in the loss dtype (float32, float64 for float64 input) with
    autocast off; the callers in :mod:`hyperssl.geometry` and :mod:`hyperssl.losses` see to it.
    """

    offset: float = 0.0
    """A constant c of s = c + g(cos θ): the kernels' logits are g/T, and they add c/T back to
    the log-sum-exp (the softmax is shift-invariant). The geodesic 1 - θ/π drops c = 1."""

    derivative_scale: float = 1.0
    """A constant factor k of ds/dcos = k · :meth:`derivative`: the kernels apply it once to a
    scalar, not to every element of a block."""

    def __init__(self, config: GeometryConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    @property
    def name(self) -> str:
        """The registered name (``geometry=<name>``)."""
        return self.config.name

    @abstractmethod
    def similarity(self, cos: Tensor) -> Tensor:
        """s(cos θ), differentiable: cos [*] -> [*]."""

    @abstractmethod
    def squared_distance(self, cos: Tensor) -> Tensor:
        """The squared distance BYOL regresses, zero at cos θ = 1 and increasing with θ,
        differentiable: cos [*] -> [*]."""

    def clamp_(self, cos: Tensor) -> Tensor:
        """Clamp ``cos`` in place to where s has a finite derivative and return it, as
        :meth:`similarity` does. The default leaves it as is, for an s that is smooth on all of
        [-1, 1]."""
        return cos

    @abstractmethod
    def logits_(self, cos: Tensor, scale: float) -> Tensor:
        """Overwrite a block of clamped cosines without grad with (s - offset)·scale and return
        it (``scale`` = 1/T). Called after :meth:`derivative`, so it may destroy ``cos``."""

    @abstractmethod
    def derivative(self, cos: Tensor) -> Tensor | None:
        """ds/dcos / derivative_scale at a block of cosines without grad, as autograd through
        :meth:`similarity` gives it, as a new tensor (``cos`` left as is); None when ds/dcos is
        the constant ``derivative_scale``, so that the kernels skip the elementwise product and
        stay a bare matmul.

        The kernels call it on the raw cosines, before :meth:`clamp_`: where the clamp changes
        a cosine, s is constant there and the derivative must be 0 (the rule of autograd
        through a clamp, :func:`hyperssl.geometry.safe_arccos`); raw cosines of unit vectors
        may lie a rounding error beyond ±1."""


GeometryLike = str | GeometryConfig | Mapping[str, Any] | Geometry
"""What ``geometry=`` accepts: a registered name, a config with ``name`` and the geometry's keys
(a schema dataclass, a DictConfig node, a dict), or a :class:`Geometry`."""


# Geometries are created outside a composed config too (a loss called on tensors): their checks
# see only their own keys. Rules that read other groups belong to the validation of the run.
_NO_OTHER_GROUPS = OmegaConf.create()


def create_geometry(geometry: GeometryLike = "cosine", key: str = "geometry") -> Geometry:
    """The :class:`Geometry` of a name, of a config, or ``geometry`` itself if it is one.

    A name gets the schema's defaults (one cached object per registered entry, so losses may
    call this on every step). A config is merged onto the schema of its ``name`` and checked:
    an unknown name, key or type, or a bad value, is a :class:`hyperssl.ConfigError` naming
    ``key`` (``key.<field>``) and what is allowed.
    """
    if isinstance(geometry, Geometry):
        return geometry
    if isinstance(geometry, str):
        return _default_geometry(GEOMETRIES.entry(geometry, key), key)
    # Plain values: OmegaConf refuses to merge a structured node of another type (the base
    # GeometryConfig, a run's geometry node) onto the schema, even when its keys fit.
    values = OmegaConf.to_container(OmegaConf.create(geometry), resolve=True)
    name = values.get("name", GeometryConfig.name)
    entry = GEOMETRIES.entry(name, key)
    return entry.target(GEOMETRIES.validate(name, values, _NO_OTHER_GROUPS, key))


@functools.cache
def _default_geometry(entry: Entry, key: str) -> Geometry:
    return entry.target(GEOMETRIES.validate(entry.name, None, _NO_OTHER_GROUPS, key))
