"""The README's "When something goes wrong" table lists every exit status the entry points use."""

from hydra_runs import REPO

from hyperssl.cli import errors


def test_every_exit_status_has_a_row_in_the_readme():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## When something goes wrong", 1)[1].split("\n## ", 1)[0]
    codes = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    rows = {
        int(cells[1])
        for line in section.splitlines()
        if (cells := line.split("|"))[0] == "" and len(cells) > 2 and cells[1].strip().isdigit()
    }
    assert rows == codes
