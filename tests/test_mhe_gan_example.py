"""scripts/examples/mhe_gan.py runs a few steps, writes its samples and losses, and MHE's
gradient reaches the discriminator."""

import csv
import math

import pytest
import torch
from script_modules import import_script


@pytest.fixture(scope="module")
def mhe_gan():
    return import_script("examples", "mhe_gan")


def test_three_steps_write_a_sample_grid_and_finite_losses(mhe_gan, tmp_path):
    mhe_gan.main(["--steps", "3", "--batch-size", "8", "--device", "cpu", "--out", str(tmp_path)])
    assert (tmp_path / "samples.png").stat().st_size > 0
    with open(tmp_path / "losses.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == [0, 1, 2]
    for row in rows:
        assert all(math.isfinite(float(row[key])) for key in ("d_loss", "g_loss", "mhe_energy"))


def test_mhe_gradient_reaches_the_discriminators_conv_weights_only(mhe_gan, tmp_path):
    def discriminator_after(mhe_weight: str) -> dict[str, torch.Tensor]:
        args = ["--steps", "1", "--batch-size", "8", "--device", "cpu", "--seed", "3"]
        out = str(tmp_path / mhe_weight)
        result = mhe_gan.main([*args, "--mhe-weight", mhe_weight, "--out", out])
        return {name: p.detach().clone() for name, p in result.discriminator.named_parameters()}

    plain, regularised = discriminator_after("0"), discriminator_after("1000")
    for name, value in plain.items():
        # The same data and noise: only the energy's gradient differs, and it reaches the conv
        # weights, not the biases nor the output layer (one neuron: no pairs, no energy).
        if name in ("0.weight", "2.weight", "4.weight", "6.weight"):
            assert not torch.allclose(value, regularised[name]), name
        else:
            torch.testing.assert_close(value, regularised[name])


def test_an_earlier_runs_outputs_are_refused_in_one_line_and_kept(mhe_gan, tmp_path, capsys):
    (tmp_path / "losses.csv").write_text("the earlier run's losses\n")
    with pytest.raises(SystemExit) as stop:
        mhe_gan.main(["--steps", "1", "--device", "cpu", "--out", str(tmp_path)])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out: {tmp_path} already holds losses.csv")
    assert len(error.strip().splitlines()) == 1
    assert (tmp_path / "losses.csv").read_text() == "the earlier run's losses\n"
    assert not (tmp_path / "samples.png").exists()
