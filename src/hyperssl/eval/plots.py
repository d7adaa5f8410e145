"""Figures of embeddings and results, drawn with matplotlib's object API (no pyplot state, no
display needed) and saved as PNG.

- :func:`embedding_map_figure`: a 2-D map of embeddings coloured by class (t-SNE or UMAP);
- :func:`angle_histogram_figure`: histograms of positive- and negative-pair angles;
- :func:`align_uniform_figure`: Wang & Isola's alignment-vs-uniformity plane, one point per run;
- :func:`metric_comparison_figure`: one metric across runs.

Every figure is laid out by constrained layout and then sized to its content
(:mod:`hyperssl.eval.figure_layout`): the main axes gets a fixed size in inches and the figure
grows around whatever its labels, legends and colour bar measure, so nothing is clipped and
nothing is squeezed. Runs are labelled by a
:class:`RunLabels` table (the settings that differ between them) in a monospace font, so that
its columns line up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hyperssl.errors import ConfigError
from hyperssl.eval.figure_layout import (
    DPI,
    SMALL,
    fit_figure,
    make_room_right,
    new_figure,
    place_point_labels,
)
from hyperssl.extras import install_hint

TICK_PAD = 4.0  # points between a row's label and the axes
COLUMN_GAP = "  "
# A legend beside its axes, top-aligned, outside the data: constrained layout makes room for it.
BESIDE = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}


@dataclass(frozen=True)
class RunLabels:
    """How the runs of a sweep are told apart: ``columns`` names the settings that differ
    between them, ``cells`` holds one row of values per run (in the order of the plotted values)
    and ``constant`` the settings every run shares, as ``key=value``."""

    columns: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    constant: tuple[str, ...] = ()

    @classmethod
    def of(cls, runs: RunLabels | Sequence[str]) -> RunLabels:
        """``runs`` as it is, or plain run names as a one-column table."""
        if isinstance(runs, RunLabels):
            return runs
        return cls(("run",), tuple((str(name),) for name in runs))

    def __len__(self) -> int:
        return len(self.cells)

    def table(self) -> tuple[str, list[str]]:
        """The header and one line per run, every column padded to its widest entry: equally
        long lines whose columns line up in a monospace font."""
        widths = [
            max([len(name), *(len(row[i]) for row in self.cells)])
            for i, name in enumerate(self.columns)
        ]

        def line(values: Sequence[str]) -> str:
            return COLUMN_GAP.join(v.ljust(w) for v, w in zip(values, widths, strict=True))

        return line(self.columns), [line(row) for row in self.cells]

    def note(self) -> str:
        """The settings shared by every run, one sentence (empty when there are none)."""
        return "Same in every run: " + ", ".join(self.constant) if self.constant else ""


def reduce_to_2d(points: np.ndarray, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """[N, D] -> [N, 2] by t-SNE (scikit-learn) or UMAP (the optional umap-learn package)."""
    if method == "umap":
        try:
            import umap
        except ImportError as error:
            raise ConfigError(
                "diagnostics.plots.embedding_map",
                "umap-learn is not installed",
                f"tsne, or {install_hint('umap')}",
            ) from error
        reducer = umap.UMAP(n_components=2, random_state=seed)
        return np.asarray(reducer.fit_transform(points))
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(points) - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(points.astype(np.float32))


def embedding_map_figure(
    points: np.ndarray,
    labels: np.ndarray,
    title: str,
    class_names: Sequence[str] | None = None,
    details: Sequence[str] = (),
) -> Figure:
    """Scatter of 2-D points [N, 2] coloured by integer class labels [N]; the legend names each
    class by ``class_names[label]`` when given (-1: unlabelled). ``details`` (which run, which
    space, which epoch) are written under the title."""
    figure = new_figure()
    axes = figure.add_subplot()
    classes = np.unique(labels)
    names = list(class_names or [])
    for colour, label in zip(_class_colours(len(classes)), classes, strict=True):
        chosen = labels == label
        name = "unlabelled" if label < 0 else names[label] if label < len(names) else str(label)
        axes.scatter(*points[chosen].T, s=9, color=colour, label=name, alpha=0.8)
    if len(classes) <= 20:
        axes.legend(
            **BESIDE,
            title="class",
            fontsize="small",
            markerscale=2,
            ncols=1 if len(classes) <= 10 else 2,
        )
    else:
        details = [*details, f"colour: one of {len(classes)} classes (too many for a legend)"]
    figure.suptitle(title)
    axes.set_xticks([])
    axes.set_yticks([])
    fit_figure(figure, axes, (5.0, 5.0), details=details)
    return figure


def _class_colours(count: int) -> list:
    from matplotlib import colormaps

    name = "tab10" if count <= 10 else "tab20" if count <= 20 else "turbo"
    colormap = colormaps[name]
    if name == "turbo":
        return [colormap(i / max(count - 1, 1)) for i in range(count)]
    return [colormap(i) for i in range(count)]


def angle_histogram_figure(
    positive: np.ndarray, negative: np.ndarray, title: str = "", details: Sequence[str] = ()
) -> Figure:
    """Densities of positive-pair and negative-pair angles (degrees, 0..180), each with its mean
    (dashed) and the 90° line of orthogonal embeddings, all named in the legend."""
    figure = new_figure()
    axes = figure.add_subplot()
    bins = np.linspace(0.0, 180.0, 61)
    for values, label, colour in (
        (positive, "positive", "tab:green"),
        (negative, "negative", "tab:red"),
    ):
        if len(values):
            axes.hist(
                values,
                bins=bins,
                density=True,
                alpha=0.55,
                color=colour,
                label=f"{label} pairs (n={len(values)})",
            )
            mean = float(np.mean(values))
            axes.axvline(
                mean,
                color=colour,
                linestyle="--",
                linewidth=1.2,
                label=f"{label} mean: {mean:.1f}°",
            )
    axes.axvline(90.0, color="gray", linewidth=0.8, label="90°: orthogonal")
    axes.set_xlim(0, 180)
    axes.set_xticks(np.arange(0, 181, 30))
    axes.set_xlabel("angle between embeddings (degrees)")
    axes.set_ylabel("density")
    axes.legend(**BESIDE, fontsize="small")
    figure.suptitle(title or "Pair angles on the hypersphere")
    fit_figure(figure, axes, (5.0, 3.2), details=details)
    return figure


def align_uniform_figure(
    runs: RunLabels | Sequence[str],
    alignment: Sequence[float],
    uniformity: Sequence[float],
    colour_by: Sequence[float] | None = None,
    colour_label: str = "",
) -> Figure:
    """Wang & Isola's plane: uniformity (x) against alignment (y), lower is better for both; one
    numbered point per run, coloured by ``colour_by`` (e.g. accuracy) when given, and a key of
    the numbers with what tells the runs apart."""
    runs = RunLabels.of(runs)
    x, y = np.asarray(uniformity, dtype=float), np.asarray(alignment, dtype=float)
    figure = new_figure()
    # The key sits in an empty, nearly zero-width column right of the colour bar; constrained
    # layout gives its overflow room like any other decoration.
    axes, key_axes = figure.subplots(1, 2, width_ratios=[1, 1e-3])
    key_axes.axis("off")
    style = {"s": 60, "edgecolors": "black", "linewidths": 0.5, "zorder": 3}
    if colour_by is not None:
        scatter = axes.scatter(x, y, c=colour_by, cmap="viridis", **style)
        figure.colorbar(scatter, ax=axes, label=colour_label)
    else:
        axes.scatter(x, y, color="tab:blue", **style)
    axes.set_xlabel(r"$\mathcal{L}_\mathrm{uniform}$ (t=2), lower is more uniform")
    axes.set_ylabel(r"$\mathcal{L}_\mathrm{align}$ ($\alpha$=2), lower is more aligned")
    axes.grid(alpha=0.3)
    axes.margins(0.12)
    figure.suptitle("Alignment vs uniformity, one point per run")

    header, lines = runs.table()
    width = len(str(len(lines)))
    rows = [f"{'#'.rjust(width)}{COLUMN_GAP}{header}"]
    rows += [f"{str(i + 1).rjust(width)}{COLUMN_GAP}{line}" for i, line in enumerate(lines)]
    if colour_by is not None:
        rows = [
            f"{row}{COLUMN_GAP}{value}"
            for row, value in zip(rows, _column(colour_label, colour_by), strict=True)
        ]
    key = key_axes.legend(
        [Line2D([], [], linestyle="none")] * len(rows),
        rows,
        loc="upper left",
        bbox_to_anchor=(0.0, 1.0),
        borderaxespad=0.0,
        handlelength=0,
        handletextpad=0,
        prop={"family": "monospace", "size": SMALL},
    )
    key.get_texts()[0].set_fontweight("bold")
    fit_figure(figure, axes, (4.2, 3.6), note=runs.note())
    place_point_labels(axes, x, y, [str(i + 1) for i in range(len(x))], style["s"])
    return figure


def metric_comparison_figure(
    runs: RunLabels | Sequence[str], values: Sequence[float], metric: str
) -> Figure:
    """``metric`` per run as a dot on a row labelled by what tells the runs apart, its value
    written beside it; the axis spans the values with a margin (not 0..100), so that a few
    points' difference shows."""
    runs = RunLabels.of(runs)
    values = np.asarray(values, dtype=float)
    header, lines = runs.table()
    figure = new_figure()
    axes = figure.add_subplot()
    rows = np.arange(len(lines))
    axes.scatter(values, rows, s=36, color="tab:blue", zorder=3)
    axes.set_yticks(rows, labels=lines, fontfamily="monospace", fontsize=SMALL)
    axes.tick_params(axis="y", length=0, pad=TICK_PAD)
    axes.set_ylim(len(lines) - 0.5, -0.5)  # the first run on top
    axes.grid(axis="y", color="0.88")
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)
    axes.annotate(
        header,
        xy=(0, 1),
        xycoords="axes fraction",
        xytext=(-TICK_PAD, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        family="monospace",
        fontsize=SMALL,
        fontweight="bold",
        parse_math=False,
    )
    digits = _decimals(values)
    labels = [
        axes.annotate(
            f"{value:.{digits}f}",
            (value, row),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=SMALL,
        )
        for value, row in zip(values, rows, strict=True)
    ]
    axes.set_xlim(*_padded_range(values))
    axes.set_xlabel(metric)
    figure.suptitle(f"{metric} of {len(lines)} runs")
    size = (4.0, max(1.2, 0.3 * len(lines)))
    fit_figure(figure, axes, size, note=runs.note())
    make_room_right(axes, labels, values)
    fit_figure(figure, axes, size, note=runs.note())
    return figure


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


# ----------------------------------------------------------------------------------- layout


def _padded_range(values: np.ndarray, margin: float = 0.1) -> tuple[float, float]:
    """The values' span widened by ``margin`` of it on each side (of the value itself when all
    values are equal)."""
    low, high = float(values.min()), float(values.max())
    span = high - low or abs(high) or 1.0
    return low - margin * span, high + margin * span


def _decimals(values: np.ndarray) -> int:
    """Enough decimals to tell the values apart: about three significant digits of their span."""
    span = float(values.max() - values.min()) or abs(float(values.max())) or 1.0
    return int(np.clip(2 - np.floor(np.log10(span)), 0, 6))


def _column(name: str, values: Sequence[float]) -> list[str]:
    """A table column: ``name`` then the values, padded to one width."""
    cells = [name, *(f"{v:.{_decimals(np.asarray(values, dtype=float))}f}" for v in values)]
    width = max(len(cell) for cell in cells)
    return [cell.rjust(width) for cell in cells]
