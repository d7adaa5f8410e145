"""scripts/examples/spherization_vis3d.py on tiny Fashion-MNIST files: a picture per network, the
spherized embeddings on the sphere, and bad input refused in one line."""

from pathlib import Path

import pytest
import torch
from datasets_on_disk import write_mnist
from pictures import assert_real_png
from script_modules import import_script


@pytest.fixture(scope="module")
def vis3d():
    return import_script("examples", "spherization_vis3d")


@pytest.fixture(scope="module")
def fashion_root(tmp_path_factory) -> Path:
    return write_mnist(tmp_path_factory.mktemp("data"), n_train=24, n_test=12, fashion=True)


def tiny(root: Path, out: Path) -> list[str]:
    return ["--data-path", str(root), "--n-epochs", "1", "--device", "cpu", "--out", str(out)]


def test_each_net_writes_its_picture_and_spherized_points_lie_on_the_sphere(
    vis3d, fashion_root, tmp_path
):
    results = vis3d.main([*tiny(fashion_root, tmp_path), "--radius", "2.0", "--limit", "16"])
    for name in ("simple_cnn_3d", "sph_cnn_3d"):
        assert_real_png(tmp_path / f"vis3d_{name}.png")
        assert results[name].embeddings.shape == (12, 3)
        assert results[name].train_images == 16
        assert 0.0 <= results[name].accuracy <= 1.0
    spherized = results["sph_cnn_3d"].embeddings
    torch.testing.assert_close(spherized.norm(dim=1), torch.full((12,), 2.0))
    assert spherized.min() > 0  # the positive octant
    plain_norms = results["simple_cnn_3d"].embeddings.norm(dim=1)
    assert not torch.allclose(plain_norms, plain_norms[0].expand_as(plain_norms))


def test_an_earlier_picture_is_refused_in_one_line_and_kept(vis3d, fashion_root, tmp_path, capsys):
    (tmp_path / "vis3d_sph_cnn_3d.png").write_bytes(b"the earlier run's picture")
    with pytest.raises(SystemExit) as stop:
        vis3d.main(tiny(fashion_root, tmp_path))
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out: {tmp_path} already holds vis3d_sph_cnn_3d.png")
    assert len(error.strip().splitlines()) == 1
    assert (tmp_path / "vis3d_sph_cnn_3d.png").read_bytes() == b"the earlier run's picture"
    assert not (tmp_path / "vis3d_simple_cnn_3d.png").exists()


def test_a_folder_without_fashion_mnist_is_one_line_naming_data_path(vis3d, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        vis3d.main(tiny(tmp_path / "empty", tmp_path / "out"))
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --data-path: ") and len(error.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("flag", "value"), [("--limit", "0"), ("--radius", "0")])
def test_bad_flag_is_one_line_naming_it(vis3d, fashion_root, tmp_path, flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        vis3d.main([*tiny(fashion_root, tmp_path), flag, value])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {flag}: got ") and len(error.splitlines()) == 1
