import sys

import numpy as np
import pytest
from pictures import assert_real_png

from hyperssl.eval.plots import (
    align_uniform_figure,
    angle_histogram_figure,
    embedding_map_figure,
    metric_comparison_figure,
    reduce_to_2d,
    save_figure,
)


def test_tsne_map_of_embeddings_is_a_real_png(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 15)
    points = reduce_to_2d(rng.normal(size=(60, 8)) + 4 * np.eye(8)[labels], "tsne", seed=0)
    assert points.shape == (60, 2)
    figure = embedding_map_figure(points, labels, "t-SNE of 60 embeddings")
    assert_real_png(save_figure(figure, tmp_path / "embedding_map.png"))


def test_angle_histograms_are_a_real_png(tmp_path):
    rng = np.random.default_rng(0)
    figure = angle_histogram_figure(rng.normal(30, 10, 200), rng.normal(90, 15, 2000))
    assert_real_png(save_figure(figure, tmp_path / "angles.png"))


def test_align_uniform_plane_and_metric_comparison_are_real_pngs(tmp_path):
    names = ["geometry=cosine", "geometry=geodesic", "heads=[mhe]"]
    plane = align_uniform_figure(
        names, [0.4, 0.3, 0.5], [-2.1, -2.6, -1.9], [80.0, 84.0, 78.0], "knn_top1"
    )
    assert_real_png(save_figure(plane, tmp_path / "plane.png"))
    dots = metric_comparison_figure(names, [80.0, 84.0, 78.0], "knn_top1")
    # Sized to its content: three rows make a short picture.
    path = save_figure(dots, tmp_path / "comparison.png")
    assert_real_png(path, min_bytes=8_000, min_size=(400, 200))


def test_umap_is_refused_clearly_when_not_installed(monkeypatch):
    from hyperssl import ConfigError

    monkeypatch.setitem(sys.modules, "umap", None)  # `import umap` raises ImportError
    with pytest.raises(ConfigError) as refused:
        reduce_to_2d(np.zeros((10, 3)), "umap")
    assert str(refused.value) == (
        "diagnostics.plots.embedding_map: umap-learn is not installed; "
        'allowed: tsne, or pip install "hyperssl[umap]"'
    )


def test_umap_reduces_to_2d_where_installed():
    pytest.importorskip("umap")
    assert reduce_to_2d(np.random.default_rng(0).normal(size=(30, 4)), "umap").shape == (30, 2)
