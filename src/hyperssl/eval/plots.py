"""Figures of embeddings and results, drawn with matplotlib's object API (no pyplot state, no
display needed) and saved as PNG.

- :func:`embedding_map_figure`: a 2-D map of embeddings coloured by class (t-SNE or UMAP);
- :func:`angle_histogram_figure`: histograms of positive- and negative-pair angles;
- :func:`align_uniform_figure`: Wang & Isola's alignment-vs-uniformity plane, one point per run;
- :func:`comparison_bar_figure`: one metric across runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from hyperssl.errors import ConfigError

DPI = 120


def reduce_to_2d(points: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """[N, D] -> [N, 2] by t-SNE (scikit-learn) or UMAP (the optional umap-learn package)."""
    if method == "umap":
        try:
            import umap
        except ImportError as error:
            raise ConfigError(
                "diagnostics.plots.embedding_map", "umap-learn is not installed", "tsne"
            ) from error
        reducer = umap.UMAP(n_components=2, random_state=seed)
        return np.asarray(reducer.fit_transform(points))
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(points) - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(points.astype(np.float32))


def embedding_map_figure(points: np.ndarray, labels: np.ndarray, title: str) -> Figure:
    """Scatter of 2-D points [N, 2] coloured by integer class labels [N]."""
    figure = Figure(figsize=(6.4, 5.6))
    axes = figure.add_subplot()
    classes = np.unique(labels)
    colours = _class_colours(len(classes))
    for colour, label in zip(colours, classes, strict=True):
        chosen = labels == label
        axes.scatter(*points[chosen].T, s=9, color=colour, label=str(label), alpha=0.8)
    if len(classes) <= 20:
        axes.legend(title="class", fontsize="small", markerscale=2, loc="best", ncols=2)
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    return figure


def _class_colours(count: int) -> list:
    from matplotlib import colormaps

    name = "tab10" if count <= 10 else "tab20" if count <= 20 else "turbo"
    colormap = colormaps[name]
    if name == "turbo":
        return [colormap(i / max(count - 1, 1)) for i in range(count)]
    return [colormap(i) for i in range(count)]


def angle_histogram_figure(positive: np.ndarray, negative: np.ndarray, title: str = "") -> Figure:
    """Densities of positive-pair and negative-pair angles (degrees, 0..180)."""
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    bins = np.linspace(0.0, 180.0, 61)
    for values, label, colour in (
        (positive, "positive pairs", "tab:green"),
        (negative, "negative pairs", "tab:red"),
    ):
        if len(values):
            axes.hist(values, bins=bins, density=True, alpha=0.55, color=colour, label=label)
            axes.axvline(float(np.mean(values)), color=colour, linestyle="--", linewidth=1)
    axes.axvline(90.0, color="gray", linewidth=0.8)
    axes.set_xlim(0, 180)
    axes.set_xlabel("angle between embeddings (degrees)")
    axes.set_ylabel("density")
    axes.set_title(title or "Pair angles on the hypersphere")
    axes.legend()
    figure.tight_layout()
    return figure


def align_uniform_figure(
    names: Sequence[str],
    alignment: Sequence[float],
    uniformity: Sequence[float],
    colour_by: Sequence[float] | None = None,
    colour_label: str = "",
) -> Figure:
    """Wang & Isola's plane: uniformity (x) against alignment (y), lower is better for both; one
    annotated point per run, coloured by ``colour_by`` (e.g. accuracy) when given."""
    figure = Figure(figsize=(6.4, 5.0))
    axes = figure.add_subplot()
    if colour_by is not None:
        scatter = axes.scatter(uniformity, alignment, c=colour_by, cmap="viridis", s=60)
        figure.colorbar(scatter, ax=axes, label=colour_label)
    else:
        axes.scatter(uniformity, alignment, s=60, color="tab:blue")
    for name, x, y in zip(names, uniformity, alignment, strict=True):
        axes.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="x-small")
    axes.set_xlabel(r"$\mathcal{L}_\mathrm{uniform}$ (t=2), lower is more uniform")
    axes.set_ylabel(r"$\mathcal{L}_\mathrm{align}$ ($\alpha$=2), lower is more aligned")
    axes.set_title("Alignment vs uniformity, one point per run")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def comparison_bar_figure(names: Sequence[str], values: Sequence[float], metric: str) -> Figure:
    """Horizontal bars of ``metric`` per run, values written at the bar ends."""
    figure = Figure(figsize=(7.0, 1.2 + 0.45 * len(names)))
    axes = figure.add_subplot()
    positions = np.arange(len(names))
    bars = axes.barh(positions, values, color="tab:blue")
    axes.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3, fontsize="small")
    axes.set_yticks(positions, labels=list(names), fontsize="small")
    axes.invert_yaxis()
    axes.set_xlabel(metric)
    axes.set_title(f"{metric} across runs")
    axes.margins(x=0.15)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path
