"""Structured-config schema of the diagnostics run alongside pretraining (``diagnostics.*``).

It lives here rather than in :mod:`hyperssl.eval.schema` because :mod:`hyperssl.config` needs it
for ``PretrainConfig`` while the evaluation schemas need :mod:`hyperssl.config` (optimizer,
trainer, logger): keeping this module free of project imports avoids an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hyperssl.errors import ConfigError, require
from hyperssl.extras import install_hint

EMBEDDING_MAPS = ("tsne", "umap")


@dataclass
class OnlineKNNConfig:
    """Weighted k-NN accuracy on the validation set (``val/knn_acc1``, ``val/knn_acc5``).

    The memory bank holds the backbone features of the most recent ``max_bank`` training images
    (first view, from the forward pass the training step already makes), so it costs no extra
    forward pass and its memory stays bounded whatever the data set's size.
    """

    enabled: bool = True
    every_n_epochs: int = 1
    k: int = 20
    temperature: float = 0.07
    max_bank: int = 16384


@dataclass
class SphereMetricsConfig:
    """Geometry of the embeddings on the sphere, logged each validation epoch.

    Two augmented views of the first ``num_samples`` validation images (drawn with a fixed seed,
    outside the training random stream): alignment (alpha), uniformity (t), positive- and
    negative-pair angles (mean and spread, degrees) and the effective rank.
    """

    enabled: bool = True
    num_samples: int = 256
    alpha: float = 2.0
    t: float = 2.0


@dataclass
class PlotsConfig:
    """PNG pictures written to the run directory at the end of training (and to the logger)."""

    enabled: bool = True
    embedding_map: str = "tsne"  # tsne (scikit-learn) or umap (needs the umap-learn package)
    max_points: int = 500


@dataclass
class DiagnosticsConfig:
    online_knn: OnlineKNNConfig = field(default_factory=OnlineKNNConfig)
    sphere_metrics: SphereMetricsConfig = field(default_factory=SphereMetricsConfig)
    plots: PlotsConfig = field(default_factory=PlotsConfig)


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def validate_diagnostics(cfg: DiagnosticsConfig, key: str = "diagnostics") -> None:
    """Check the values a type cannot express; raise :class:`ConfigError` naming the key."""
    knn = cfg.online_knn
    require(knn.every_n_epochs >= 1, f"{key}.online_knn.every_n_epochs", knn.every_n_epochs, ">= 1")
    require(knn.k >= 1, f"{key}.online_knn.k", knn.k, ">= 1")
    require(knn.temperature > 0, f"{key}.online_knn.temperature", knn.temperature, "> 0")
    require(knn.max_bank >= 1, f"{key}.online_knn.max_bank", knn.max_bank, ">= 1")
    sphere = cfg.sphere_metrics
    require(
        sphere.num_samples >= 2, f"{key}.sphere_metrics.num_samples", sphere.num_samples, ">= 2"
    )
    require(sphere.alpha > 0, f"{key}.sphere_metrics.alpha", sphere.alpha, "> 0")
    require(sphere.t > 0, f"{key}.sphere_metrics.t", sphere.t, "> 0")
    plots = cfg.plots
    require(
        plots.embedding_map in EMBEDDING_MAPS,
        f"{key}.plots.embedding_map",
        plots.embedding_map,
        ", ".join(EMBEDDING_MAPS),
    )
    require(plots.max_points >= 8, f"{key}.plots.max_points", plots.max_points, ">= 8")
    if plots.enabled and plots.embedding_map == "umap" and not umap_available():
        raise ConfigError(
            f"{key}.plots.embedding_map",
            "umap needs the umap-learn package, which is not installed",
            f"tsne, or {install_hint('umap')}",
        )
