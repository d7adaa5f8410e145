"""The console commands' own argument handling (the commands themselves run in
tests/packaging/test_distributions.py and, as main_*.py, throughout tests/cli)."""

from pathlib import Path

from hyperssl.cli.commands import config_path_from_current_folder


def test_a_relative_config_path_is_read_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    arguments = ["--config-path", "presets", "-cp=more/presets", "--config-name", "simclr", "a=1"]
    assert config_path_from_current_folder(arguments) == [
        "--config-path",
        str(tmp_path / "presets"),
        f"-cp={tmp_path / 'more' / 'presets'}",
        "--config-name",
        "simclr",
        "a=1",
    ]


def test_absolute_and_package_config_paths_and_overrides_are_kept():
    arguments = ["-cp", "pkg://hyperssl.configs", f"--config-path={Path('/abs').resolve()}"]
    arguments += ["data.train_path=rel/images", "name=-cp"]
    assert config_path_from_current_folder(arguments) == arguments
