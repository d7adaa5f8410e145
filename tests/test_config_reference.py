"""The config reference page lists what the code defines: every group, option and key with its
real type and default, including a part registered after the page's code was written."""

import dataclasses
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hydra_runs import CONFIGS
from omegaconf import MISSING

import hyperssl.config_reference as reference_module
from hyperssl.config import TrainerConfig
from hyperssl.config_reference import config_reference, schema_keys
from hyperssl.options_table import PRESET_GROUPS, preset_names
from hyperssl.parts import PART_REGISTRIES


@pytest.fixture(scope="module")
def page() -> str:
    return config_reference(CONFIGS)


def section(page: str, anchor: str) -> str:
    """The text from the heading with ``{#anchor}`` to the next heading of any level."""
    start = page.index(f"{{#{anchor}}}")
    end = page.find("\n#", start)
    return page[start : end if end != -1 else None]


def test_simclr_lists_its_temperature_with_type_and_default(page):
    simclr = section(page, "method-simclr")
    assert "| `method.temperature` | `float` | `0.2` |" in simclr
    assert "| `method.positives` | `str` | `log_sum_prob` |" in simclr
    # The name field holds the option's own name, not the base schema's MISSING.
    assert "| `method.name` | `str` | `simclr` |" in simclr


def test_an_options_summary_drops_sphinx_roles(page):
    barlow = section(page, "method-barlow_twins")
    assert "(see `hyperssl.heads.barlow_twins.BarlowTwinsHeadConfig`)" in barlow
    assert ":class:" not in page


def test_nested_schemas_are_flattened_into_dotted_keys(page):
    byol = section(page, "method-byol")
    assert "| `method.projector.hidden_dim` | `int` | `4096` |" in byol
    assert "| `method.momentum.base_tau` | `float` | `0.99` |" in byol


def test_a_field_comment_becomes_the_keys_note(page):
    row = next(line for line in page.splitlines() if line.startswith("| `resume` |"))
    assert row.endswith('a .ckpt, a run dir, or "auto": continue this run dir if it has one |')


def test_a_pipe_in_a_type_does_not_split_the_row(page):
    row = next(line for line in page.splitlines() if line.startswith("| `resume` |"))
    # `str | None` sits inside a code span, which Python-Markdown's tables keep whole.
    assert "| `str | None` | `null` |" in row


def test_every_registered_option_of_every_registry_has_a_section(page):
    for registry in PART_REGISTRIES:
        assert f"## {registry.group} {{#{registry.group}}}" in page
        for name in registry.names():
            assert f"{{#{registry.group}-{name}}}" in page, (registry.group, name)


def test_a_multi_select_group_keeps_each_options_keys_under_its_name(page):
    assert "| `heads.mhe.weight` | `float` | `1.0` |" in section(page, "heads-mhe")


def test_every_preset_file_has_a_section_with_the_values_it_sets(page):
    for group in PRESET_GROUPS:
        names = preset_names(CONFIGS, group)
        assert names
        for name in names:
            assert f"{{#{group}-{name}}}" in page, (group, name)
    gpu = section(page, "trainer-gpu")
    assert "| `trainer.precision` | `bf16-mixed` | `32-true` |" in gpu


def test_a_preset_group_lists_its_schemas_keys(page):
    trainer = section(page, "trainer")
    assert "| `trainer.max_epochs` | `int` | `100` |" in trainer
    assert len(re.findall(r"^\| `trainer\.", trainer, re.M)) == len(
        dataclasses.fields(TrainerConfig)
    )
    assert "| `augmentations.<i>.num_crops` | `int` |" in section(page, "augmentations")


def test_entry_points_give_their_default_options_and_own_keys(page):
    pretrain = section(page, "entry-pretrain")
    assert "[`method`](#method)=`simclr`" in pretrain
    assert "[`heads`](#heads)=`[]`" in pretrain
    assert "| `seed` | `int` | `5` |" in pretrain
    # Keys of a group belong to its options' sections, not to the entry point's table.
    assert "`optimizer.lr` | `float`" not in pretrain
    knn = section(page, "entry-knn")
    assert "| `knn.k` | `list[int]` | `[20]` |" in knn


def test_missing_is_required_and_long_defaults_are_cut():
    @dataclass
    class Schema:
        path: str = MISSING
        names: list[str] = field(default_factory=lambda: [f"name{i}" for i in range(20)])

    path, names = schema_keys(Schema, "x")
    assert path.default == "required"
    assert names.default.endswith("…`")
    assert len(names.default) == reference_module.MAX_DEFAULT_CHARS + 2  # the backticks


def test_a_part_registered_at_test_time_shows_up_with_its_keys(tmp_path, monkeypatch):
    package = tmp_path / "throwaway_widgets"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from hyperssl.registry import Registry\n"
        'WIDGETS = Registry("widget", "widget", "throwaway_widgets")\n'
    )
    (package / "spinner.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass, field

            from throwaway_widgets import WIDGETS


            @dataclass
            class Rotor:
                blades: int = 3


            @dataclass
            class SpinnerConfig:
                \"\"\"A widget that spins.\"\"\"

                name: str = "???"
                rpm: float = 33.3  # turns a minute
                rotor: Rotor = field(default_factory=Rotor)


            @WIDGETS.register("spinner", SpinnerConfig)
            def spinner(): ...
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from throwaway_widgets import WIDGETS

    monkeypatch.setattr(reference_module, "PART_REGISTRIES", (*PART_REGISTRIES, WIDGETS))

    spinner = section(config_reference(CONFIGS), "widget-spinner")
    assert "A widget that spins." in spinner
    assert "| `widget.name` | `str` | `spinner` |" in spinner
    assert "| `widget.rpm` | `float` | `33.3` | turns a minute |" in spinner
    assert "| `widget.rotor.blades` | `int` | `3` |" in spinner


def test_the_docs_build_writes_the_reference_page():
    script = (Path(__file__).resolve().parents[1] / "docs" / "gen_pages.py").read_text()
    assert "config_reference(CONFIGS)" in script
    assert '"reference/config.md"' in script
