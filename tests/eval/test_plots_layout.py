"""Pictures a researcher can read: for a realistic sweep (13 runs, long override names), no text
is clipped by the figure's edge, none runs into another, and figures are sized to their content.

``layout_problems`` is shared with test_results.py (same folder, on sys.path under pytest).
"""

from itertools import combinations, product

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from hyperssl.eval.plots import (
    RunLabels,
    align_uniform_figure,
    angle_histogram_figure,
    embedding_map_figure,
    metric_comparison_figure,
)

CONSTANT = (
    "dataset=cifar10",
    "heads.mhe.layers=[backbone.layer1,backbone.layer2]",
    "trainer.limit_train_batches=1",
    "data.train_path=/data/cifar-10",
)
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DETAILS = [
    "mocov2plus, geodesic geometry, heads: mhe, on cifar10",
    "128-d projector output after 200 epochs (78200 steps)",
    "run: multirun/mocov2plus-cifar10/2024-05-01_12-00-00/11_geometry=geodesic,"
    "heads.mhe.layers=[backbone.layer1,backbone.layer2],heads.mhe.power=a2",
]


def sweep_labels() -> RunLabels:
    """A baseline and SimCLR/MoCo x cosine/geodesic x three MHE powers: 13 runs."""
    cells = [("simclr", "cosine", "none", "-")]
    cells += [
        (method, geometry, "mhe", power)
        for method, geometry, power in product(
            ("mocov2plus", "simclr"), ("cosine", "geodesic"), ("0", "1", "a2")
        )
    ]
    return RunLabels(("method", "geometry", "heads", "power"), tuple(cells), CONSTANT)


def drawn_texts(figure: Figure) -> list[Text]:
    """Every non-empty Text artist the figure draws (tick labels out of view are not drawn),
    found by recording each Text's draw call."""
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)  # makes the ticks the next draw uses
    drawn: dict[int, Text] = {}
    texts = figure.findobj(Text)
    for text in texts:

        def record(renderer, text=text, draw=text.draw):
            if text.get_visible() and text.get_text().strip():
                drawn[id(text)] = text
            return draw(renderer)

        text.draw = record
    try:
        figure.draw(renderer)
    finally:
        for text in texts:
            del text.draw
    return list(drawn.values())


def _overlap(a: Bbox, b: Bbox) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def layout_problems(figure: Figure) -> list[str]:
    """Texts clipped by the figure's edge, texts overlapping each other, and texts running into
    an axes other than their own (point labels into the colour bar, titles into a plot)."""
    texts = drawn_texts(figure)
    renderer = figure.canvas.get_renderer()
    boxes = [(text, text.get_window_extent(renderer)) for text in texts]
    page = figure.bbox
    problems = []
    for text, box in boxes:
        if box.x0 < page.x0 - 0.5 or box.x1 > page.x1 + 0.5:
            problems.append(f"clipped left/right: {text.get_text()!r}")
        if box.y0 < page.y0 - 0.5 or box.y1 > page.y1 + 0.5:
            problems.append(f"clipped top/bottom: {text.get_text()!r}")
        for axes in figure.axes:
            if axes is not text.axes and _overlap(box, axes.bbox) > 1.0:
                problems.append(f"{text.get_text()!r} runs into another axes")
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        if _overlap(box_a, box_b) > 1.0:
            problems.append(f"{a.get_text()!r} overlaps {b.get_text()!r}")
    return problems


def inches(axes) -> tuple[float, float]:
    box = axes.get_position()
    width, height = axes.figure.get_size_inches()
    return box.width * width, box.height * height


def test_metric_comparison_of_13_runs_has_no_clipped_or_overlapping_text():
    labels = sweep_labels()
    values = np.linspace(86.0, 92.5, len(labels))
    assert layout_problems(metric_comparison_figure(labels, values, "knn_top1")) == []


def test_metric_comparison_axis_fits_the_spread_and_values_sit_inside_the_axes():
    values = np.linspace(86.0, 92.5, 13)
    figure = metric_comparison_figure(sweep_labels(), values, "knn_top1")
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    assert 85.0 < low < 86.0 and 92.5 < high < 95.0  # not 0..100
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    inside = axes.get_window_extent(renderer)
    values_drawn = [text for text in axes.texts if text.get_text()[0].isdigit()]
    assert [text.get_text() for text in values_drawn] == [f"{v:.2f}" for v in values]
    for text in values_drawn:
        box = text.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1, text.get_text()


def test_metric_comparison_rows_are_labelled_by_what_differs_with_constants_in_a_note():
    figure = metric_comparison_figure(sweep_labels(), np.linspace(86.0, 92.5, 13), "knn_top1")
    rows = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert rows[0].split() == ["simclr", "cosine", "none", "-"]
    assert rows[-1].split() == ["simclr", "geodesic", "mhe", "a2"]
    assert len({len(row) for row in rows}) == 1  # padded: the columns line up
    assert not any("limit_train_batches" in row or "layers" in row for row in rows)
    note = " ".join(text.get_text() for text in drawn_texts(figure) if "Same in" in text.get_text())
    assert "trainer.limit_train_batches=1" in note.replace("\n", "")


def test_align_uniform_of_13_runs_keeps_point_labels_off_the_colour_bar_and_each_other():
    rng = np.random.default_rng(0)
    labels = sweep_labels()
    figure = align_uniform_figure(
        labels,
        rng.uniform(0.3, 0.6, len(labels)),
        rng.uniform(-3.5, -2.5, len(labels)),
        rng.uniform(86.0, 92.5, len(labels)),
        "knn_top1",
    )
    assert layout_problems(figure) == []
    legend = next(axes.get_legend() for axes in figure.axes if axes.get_legend())
    key = [text.get_text() for text in legend.get_texts()]
    assert key[0].split() == ["#", "method", "geometry", "heads", "power", "knn_top1"]
    assert key[1].split()[:5] == ["1", "simclr", "cosine", "none", "-"]


def test_align_uniform_plot_is_not_squeezed_into_a_strip():
    labels = sweep_labels()
    figure = align_uniform_figure(labels, np.linspace(0.3, 0.6, 13), np.linspace(-3.5, -2.5, 13))
    width, height = inches(figure.axes[0])
    assert 3.0 < width < 6.0 and 3.0 < height < 6.0


def test_embedding_map_names_the_classes_and_says_which_run_space_and_epoch():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 30)
    points = rng.normal(size=(10, 2))[labels] * 8 + rng.normal(size=(300, 2))
    figure = embedding_map_figure(points, labels, "t-SNE of 300 embeddings", CIFAR10, DETAILS)
    assert layout_problems(figure) == []
    legend = figure.axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == CIFAR10
    written = " ".join(text.get_text() for text in drawn_texts(figure)).replace("\n", "")
    for detail in DETAILS:
        assert detail.replace(" ", "") in written.replace(" ", "")


def test_angle_histogram_legend_explains_the_mean_and_orthogonal_lines():
    rng = np.random.default_rng(0)
    positive, negative = rng.normal(34.0, 10.0, 256), rng.normal(62.0, 20.0, 5000)
    figure = angle_histogram_figure(positive, negative, details=DETAILS)
    assert layout_problems(figure) == []
    entries = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert entries == [
        "positive pairs (n=256)",
        f"positive mean: {positive.mean():.1f}°",
        "negative pairs (n=5000)",
        f"negative mean: {negative.mean():.1f}°",
        "90°: orthogonal",
    ]


def test_comparison_figure_grows_with_the_runs_not_the_rows_shrinking():
    few = metric_comparison_figure(["a=1", "a=2", "a=3"], [1.0, 2.0, 3.0], "loss")
    many = metric_comparison_figure(sweep_labels(), np.linspace(86.0, 92.5, 13), "knn_top1")
    assert many.get_size_inches()[1] > few.get_size_inches()[1] + 2.0
    assert inches(many.axes[0])[1] / 13 >= 0.29


def test_long_swept_values_widen_the_figure_instead_of_being_clipped():
    layers = ["[backbone.layer1,backbone.layer2]", "[backbone.layer3,backbone.layer4,projector]"]
    cells = tuple(
        (method, f"{layer},{power}")
        for method in ("simclr", "mocov2plus")
        for layer in layers
        for power in ("0", "a2")
    )
    labels = RunLabels(("method", "heads.mhe.layers,power"), cells, CONSTANT)
    values = np.linspace(0.1, 0.2, len(cells))
    for figure in (
        metric_comparison_figure(labels, values, "val/alignment"),
        align_uniform_figure(labels, values, -10 * values, 80 + 10 * values, "knn_top1"),
    ):
        assert layout_problems(figure) == []
