"""The wheel and sdist that ``python -m build`` makes from the repository's tracked files, and the
wheel installed in a fresh virtualenv, where the console commands run the quickstart from an
empty folder as a ``pip install hyperssl`` user runs it.

The fresh virtualenv sees this environment's packages (torch, Lightning, Hydra, ...) through a
``.pth`` line, so nothing is downloaded; hyperssl itself comes only from the wheel (this
environment's editable install is a ``.pth`` of its own, which a ``.pth`` line does not run).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest
from hydra_runs import TINY, entry_environment

import hyperssl
from hyperssl.methods.registry import METHODS

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("hyperssl-pretrain", "hyperssl-linear", "hyperssl-knn")


class Distributions(NamedTuple):
    wheel: Path
    sdist: Path


class Installed(NamedTuple):
    bin: Path  # the fresh virtualenv's bin/, where the console commands are
    python: Path


def _tracked_copy(destination: Path) -> Path:
    """The repository's tracked files (what a clean clone has), copied to ``destination``."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout
    for name in filter(None, listing.decode().split("\0")):
        source, target = REPO / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        elif source.is_file():  # a tracked file deleted in the working tree is left out
            target.write_bytes(source.read_bytes())
    return destination


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    source = _tracked_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return Distributions(wheel, sdist)


def _run(command: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=entry_environment(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(distributions: Distributions, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    venv = tmp_path_factory.mktemp("venv")
    # Without pip (and, before Python 3.12, setuptools 65, which would shadow the newer one
    # torch requires): this environment's pip installs into it with --python.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], venv
    ).stdout.strip()
    (Path(site_packages) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --no-index: the dependencies must already be satisfied, so the wheel's metadata is checked
    # against this environment's packages without a download.
    install = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index"]
        + [str(distributions.wheel)],
        venv,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return Installed(venv / "bin", python)


def test_the_wheel_carries_the_configs_and_the_console_commands(distributions):
    with zipfile.ZipFile(distributions.wheel) as wheel:
        names = set(wheel.namelist())
        info = f"hyperssl-{hyperssl.__version__}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        metadata = wheel.read(f"{info}/METADATA").decode()
    packaged = {
        path.relative_to(REPO / "src").as_posix()
        for path in (REPO / "src" / "hyperssl" / "configs").rglob("*.yaml")
    }
    assert len(packaged) > 20 and packaged <= names
    for command, function in zip(COMMANDS, ("pretrain", "linear", "knn"), strict=True):
        assert f"{command} = hyperssl.cli.commands:{function}" in entry_points
    assert f"\nVersion: {hyperssl.__version__}\n" in metadata
    assert not any(name.startswith("tests/") for name in names)


def test_the_sdist_carries_the_package_and_no_tests(distributions):
    with tarfile.open(distributions.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE"} <= names
    assert "src/hyperssl/configs/pretrain.yaml" in names
    assert "src/hyperssl/cli/commands.py" in names
    assert not any(name.startswith("tests") for name in names), sorted(names)[:20]


def _toml_tables(text: str) -> dict[str, str]:
    """The text of each ``[table]`` of a TOML file, by name (tomllib needs Python 3.11)."""
    parts = re.split(r"^\[([\w.-]+)\]$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_version_is_written_in_one_place():
    tables = _toml_tables((REPO / "pyproject.toml").read_text())
    assert 'dynamic = ["version"]' in tables["project"]
    assert not re.search(r"^version\s*=", tables["project"], re.MULTILINE)
    assert 'version = { attr = "hyperssl.__version__" }' in tables["tool.setuptools.dynamic"]
    changelog = (REPO / "CHANGELOG.md").read_text()
    newest = re.search(r"^## (\d+\.\d+\.\d+)", changelog, re.MULTILINE)
    assert newest is not None and newest[1] == hyperssl.__version__


def only_run(folder: Path) -> Path:
    (run,) = [path for path in folder.iterdir() if path.is_dir()]
    return run


def test_the_console_commands_run_the_quickstart_from_an_empty_folder(installed, tmp_path):
    where = _run(
        [str(installed.python), "-c", "import hyperssl; print(hyperssl.__file__)"], tmp_path
    )
    assert where.stdout.startswith(str(installed.bin.parent)), where.stdout + where.stderr

    # A user's own preset, found with --config-dir: the packaged pretrain config and TINY values.
    presets = tmp_path / "my_presets"
    presets.mkdir()
    (presets / "tiny_simclr.yaml").write_text(
        "defaults:\n  - pretrain\n  - _self_\n\nname: tiny-simclr\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    cache = f"feature_cache.dir={tmp_path / 'cache'}"

    pretrain = _run(
        [
            str(installed.bin / "hyperssl-pretrain"),
            "--config-dir",
            str(presets),
            "--config-name",
            "tiny_simclr",
            *TINY,
        ],
        work,
    )
    assert pretrain.returncode == 0, pretrain.stderr[-3000:]
    pretrained = only_run(work / "outputs" / "tiny-simclr")
    assert "knn_top1" in json.loads((pretrained / "summary.json").read_text())
    assert (pretrained / "pretrain.log").is_file()

    linear = _run(
        [
            str(installed.bin / "hyperssl-linear"),
            "data.num_workers=0",
            "trainer.max_epochs=2",
            "trainer.enable_progress_bar=false",
            cache,
        ],
        work,
    )
    assert linear.returncode == 0, linear.stderr[-3000:]
    summary = json.loads(
        (only_run(work / "outputs" / "linear-digits") / "summary.json").read_text()
    )
    assert summary["pretrained"] == str(pretrained / "checkpoints" / "last.ckpt")  # latest
    assert summary["mode"] == "precomputed" and 0.0 <= summary["linear_top1"] <= 100.0

    knn = _run(
        [
            str(installed.bin / "hyperssl-knn"),
            "data.num_workers=0",
            f"pretrained_feature_extractor={pretrained}",
            cache,
        ],
        work,
    )
    assert knn.returncode == 0, knn.stderr[-3000:]
    assert "features from cache" in knn.stdout + knn.stderr  # extracted once, by the probe
    with open(only_run(work / "outputs" / "knn-digits") / "knn.csv") as file:
        rows = list(csv.DictReader(file))
    # knn.yaml: 2 feature types x 3 k x (2 temperatures for cosine + 1 for euclidean)
    assert len(rows) == 18
    assert all(0.0 <= float(row["top1"]) <= float(row["top5"]) <= 100.0 for row in rows)


def test_an_installed_command_refuses_bad_input_in_one_line(installed, tmp_path):
    bad = _run([str(installed.bin / "hyperssl-pretrain"), "method=nope"], tmp_path)
    assert bad.returncode == 2
    allowed = ", ".join(sorted(METHODS.names()))
    assert bad.stderr.strip().splitlines() == [
        f"error: method: unknown option 'nope'; allowed: {allowed}"
    ]
    assert not (tmp_path / "outputs").exists()
