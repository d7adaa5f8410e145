"""Sizing matplotlib figures to their text, written by hand because constrained layout fits
the axes inside a given figure size but never grows the figure: the main axes gets a fixed size in
inches and the figure grows around whatever its labels, legends and colour bar measure
(:func:`fit_figure`); long labels are wrapped at measured widths (:func:`wrap_text`); point labels
are placed where they cover no other point or label (:func:`place_point_labels`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.transforms import Bbox

DPI = 120
SMALL = 8.0  # points: tables, notes, value labels


def new_figure() -> Figure:
    """A constrained-layout figure with an Agg canvas, so that text can be measured."""
    figure = Figure(dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def fit_figure(
    figure: Figure,
    axes: Axes,
    size: tuple[float, float],
    details: Sequence[str] = (),
    note: str = "",
) -> None:
    """Size ``figure`` so that ``axes`` gets ``size`` inches and everything around it (tick
    labels, titles, colour bar, legends outside) fits: constrained layout places the decorations
    in a given figure, this finds the figure size that leaves the axes its size. ``details`` go
    under the title, wrapped to the axes' width; ``note`` at the foot, wrapped to the figure's."""
    if details:
        title = axes.set_title("", fontsize=SMALL, parse_math=False)
        title.set_text(wrap_text("\n".join(details), size[0] * figure.dpi, title, figure))
    footnote = None
    if note:
        footnote = figure.supxlabel("", fontsize=SMALL, family="monospace", parse_math=False)
        footnote.set_multialignment("left")
    # Start roomy: constrained layout gives up (and leaves text outside) when the decorations
    # do not fit; from a figure they fit in, each step corrects by what the axes lacks.
    width, height = size[0] + 40.0, size[1] + 20.0
    for _ in range(10):
        figure.set_size_inches(width, height)
        if footnote is not None:
            footnote.set_text(wrap_text(note, (width - 0.3) * figure.dpi, footnote, figure))
        figure.draw_without_rendering()
        box = axes.get_position()
        missing = (size[0] - box.width * width, size[1] - box.height * height)
        if max(abs(missing[0]), abs(missing[1])) < 0.005:
            break
        width, height = width + missing[0], height + missing[1]


def wrap_text(text: str, width_px: float, like: Text, figure: Figure) -> str:
    """``text`` broken after spaces, commas and slashes (and inside words longer than a line)
    into lines no wider than ``width_px`` in ``like``'s font, measured by the figure's renderer:
    paths and override lists break between their parts."""
    renderer = figure.canvas.get_renderer()
    font = like.get_fontproperties()
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in filter(None, re.split(r"(?<=[\s,/])(?=\S)", paragraph)):
            for piece in _pieces(word, width_px, renderer, font):
                if line and _width(line + piece.rstrip(), renderer, font) > width_px:
                    lines.append(line.rstrip())
                    line = ""
                line += piece
        lines.append(line.rstrip())
    return "\n".join(lines)


def _pieces(word: str, width_px: float, renderer: RendererBase, font: FontProperties) -> list[str]:
    """``word`` cut into parts no wider than ``width_px`` (the word itself when it fits)."""
    if _width(word.rstrip(), renderer, font) <= width_px:
        return [word]
    pieces = [""]
    for char in word:
        if pieces[-1] and _width(pieces[-1] + char, renderer, font) > width_px:
            pieces.append("")
        pieces[-1] += char
    return pieces


def _width(text: str, renderer: RendererBase, font: FontProperties) -> float:
    return renderer.get_text_width_height_descent(text, font, ismath=False)[0]


def make_room_right(axes: Axes, labels: Sequence[Text], values: np.ndarray) -> None:
    """Widen the x-axis on the right until every value label ends inside the axes (the axes'
    size in pixels is fixed by now, so the labels' widths are known)."""
    renderer = axes.figure.canvas.get_renderer()
    box = axes.get_window_extent(renderer)
    low, high = axes.get_xlim()
    needed = high
    for label, value in zip(labels, values, strict=True):
        extent = label.get_window_extent(renderer)
        offset = extent.x0 - box.x0 - (value - low) / (high - low) * box.width  # from the dot
        room = box.width - offset - extent.width - 4.0
        needed = max(needed, low + (value - low) * box.width / max(room, 1.0))
    axes.set_xlim(low, needed)


def place_point_labels(
    axes: Axes, x: np.ndarray, y: np.ndarray, labels: Sequence[str], marker_area: float
) -> list[Text]:
    """Write each label next to its point, at the first of rings of places around it (nearest
    ring first) where it covers no point and no earlier label and stays inside the axes; where
    none is free, at the place with the least overlap. A label off the nearest ring gets a thin
    line to its point. Call once the figure is laid out."""
    figure = axes.figure
    renderer = figure.canvas.get_renderer()
    radius = np.sqrt(marker_area) / 2  # points
    centres = axes.transData.transform(np.column_stack([x, y]))
    r_px = radius * figure.dpi / 72
    taken = [Bbox.from_extents(cx - r_px, cy - r_px, cx + r_px, cy + r_px) for cx, cy in centres]
    inside = axes.get_window_extent(renderer).padded(-2)
    # Right of the point first, then the other sides and corners; steps to the corners are
    # diagonal, so that a corner of the label clears the marker.
    directions = [(1, 0), (1, 1), (1, -1), (-1, 0), (-1, 1), (-1, -1), (0, 1), (0, -1)]
    places = [
        ((dx * distance, dy * distance), ring)
        for ring, distance in enumerate(radius + np.array([1.0, 6.0, 12.0, 20.0]))
        for dx, dy in directions
    ]
    style = {"textcoords": "offset points", "fontsize": SMALL, "fontweight": "bold"}
    texts = []
    for label, xi, yi in zip(labels, x, y, strict=True):
        best: tuple[float, tuple] | None = None
        for offset, ring in places:
            text = axes.annotate(label, (xi, yi), xytext=offset, **style, **_alignment(offset))
            box = text.get_window_extent(renderer)
            text.remove()
            cost = sum(_overlap(box, other) for other in taken)
            cost += box.width * box.height - _overlap(box, inside)
            if best is None or cost < best[0]:
                best = (cost, (offset, ring))
            if cost == 0:
                break
        offset, ring = best[1]
        text = axes.annotate(label, (xi, yi), xytext=offset, **style, **_alignment(offset))
        if ring > 0:  # a line of its own, so that the label's extent stays the text's
            leader = {"arrowstyle": "-", "color": "0.4", "linewidth": 0.6, "shrinkB": radius}
            line = axes.annotate("", (xi, yi), xytext=offset, **style, arrowprops=leader)
            line.set_in_layout(False)
        text.set_in_layout(False)
        taken.append(text.get_window_extent(renderer))
        texts.append(text)
    return texts


def _alignment(offset: tuple[float, float]) -> dict[str, str]:
    """The label's anchor that puts it beyond ``offset`` from its point (left of it when the
    offset points left, and so on)."""
    dx, dy = int(np.sign(offset[0])), int(np.sign(offset[1]))
    return {
        "ha": {1: "left", 0: "center", -1: "right"}[dx],
        "va": {1: "bottom", 0: "center", -1: "top"}[dy],
    }


def _overlap(a: Bbox, b: Bbox) -> float:
    """The area two boxes share (0 when apart)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)
