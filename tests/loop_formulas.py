"""What the loop references of the geometry-generic losses share: each geometry's s(cos θ)
written from its paper, and plain-Python vector helpers, so that a reference computes a loss
without calling the code it checks."""

import math

import torch

# s(cos θ) of each geometry, written from its paper (t-vMF at its default κ = 16). A geometry
# registered without its formula here fails the tests parametrized over the registry.
FORMULAS = {
    "cosine": lambda c: c,
    "geodesic": lambda c: 1.0 - math.acos(max(-1.0, min(1.0, c))) / math.pi,
    "tvmf": lambda c: (1 + c) / (1 + 16 * (1 - c)) - 1,
}


def rows(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """[n, d] standard normal rows drawn in float64 from ``seed``, then cast to ``dtype``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64).to(dtype)


def unit(v: list[float]) -> list[float]:
    norm = math.sqrt(sum(a * a for a in v))
    return [a / norm for a in v]


def sim(a: list[float], b: list[float], geometry: str) -> float:
    """s(a·b) of ``geometry`` for unit vectors a, b."""
    return FORMULAS[geometry](sum(p * q for p, q in zip(a, b, strict=True)))
