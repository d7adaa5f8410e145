"""Files written at build time by mkdocs-gen-files: the config reference, made from the registries,
and copies of the repository files that the included README, CONTRIBUTING and CHANGELOG text
links to (a figure, a script), at the same relative path, so that its links work on the site."""

import re
from pathlib import Path

import mkdocs_gen_files

from hyperssl.cli.compose import CONFIGS
from hyperssl.config_reference import config_reference

REPO = Path(__file__).resolve().parent.parent
# The files whose sections the pages include; the pages sit at the top of docs/, as these files
# sit at the top of the repository, so a relative link means the same file in both.
INCLUDED = ("README.md", "CONTRIBUTING.md", "CHANGELOG.md")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")

with mkdocs_gen_files.open("reference/config.md", "w") as page:
    page.write(config_reference(CONFIGS))

for name in INCLUDED:
    source = REPO / name
    if not source.is_file():
        continue
    for target in sorted(set(LINK.findall(source.read_text()))):
        if "://" in target or target.startswith(("/", "mailto:")):
            continue
        path = REPO / target
        if path.is_file() and not target.endswith(".md"):
            with mkdocs_gen_files.open(target, "wb") as copy:
                copy.write(path.read_bytes())
