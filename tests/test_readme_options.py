"""The README's options table is the one the registries give: a new part appears in it, and a
table edited by hand fails here."""

from hydra_runs import CONFIGS, REPO

from hyperssl.options_table import options_table


def test_the_readme_lists_every_registered_option():
    table = options_table(CONFIGS)
    readme = (REPO / "README.md").read_text()
    assert table in readme, (
        "README.md's options table is stale; regenerate it with "
        "`python -m hyperssl.options_table` and paste:\n" + table
    )
