"""The documentation site's configuration stays complete without building it (`mkdocs build
--strict`, ~10 s, runs in .ci/run): every page in the nav exists, every public package has its
API page, every README section is on some page, and every included section exists."""

import importlib.util
import pkgutil
import re
from pathlib import Path

import pytest
import yaml

import hyperssl

griffe = pytest.importorskip("griffe", reason='pip install "hyperssl[docs]"')

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# Written at build time by docs/gen_pages.py rather than kept in docs/.
GENERATED = {"reference/config.md"}
# Public packages and modules, each with its API page; the page of a package without __all__
# lists every one of its modules.
API_PAGES = {
    "hyperssl.losses": "losses.md",
    "hyperssl.geometries": "geometries.md",
    "hyperssl.heads": "heads.md",
    "hyperssl.regularizers": "regularizers.md",
    "hyperssl.layers": "layers.md",
    "hyperssl.methods": "methods.md",
    "hyperssl.backbones": "backbones.md",
    "hyperssl.optim": "optim.md",
    "hyperssl.loggers": "loggers.md",
    "hyperssl.checkpoint_io": "checkpoint_io.md",
    "hyperssl.eval": "eval.md",
    "hyperssl.data": "data.md",
    "hyperssl.registry": "registry.md",
}
INCLUDE = re.compile(r'^--8<-- "([^":]+)(?::([\w-]+))?"$', re.M)
SECTION_START = re.compile(r"--8<-- \[start:([\w-]+)\]")


def nav_files() -> list[str]:
    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)
        else:
            for item in node:
                yield from walk(item)

    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    return list(walk(config["nav"]))


def includes() -> list[tuple[str, str | None]]:
    return [
        match.groups()
        for page in DOCS.rglob("*.md")
        for match in INCLUDE.finditer(page.read_text())
    ]


def test_every_nav_page_exists_or_is_generated():
    for path in nav_files():
        assert (DOCS / path).is_file() or path in GENERATED, path
    assert set(GENERATED) <= set(nav_files())


def test_every_page_in_docs_is_in_the_nav():
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert pages <= set(nav_files())


def test_every_public_package_has_an_api_page_in_the_nav():
    for package, page in API_PAGES.items():
        path = f"reference/api/{page}"
        assert path in nav_files(), package
        assert f"::: {package}" in (DOCS / path).read_text(), package


def test_packages_without_all_list_every_module():
    for package in ("hyperssl.eval", "hyperssl.data"):
        module = __import__(package, fromlist=["_"])
        assert not hasattr(module, "__all__"), f"{package} now has __all__: document that"
        text = (DOCS / "reference/api" / API_PAGES[package]).read_text()
        for info in pkgutil.iter_modules(module.__path__):
            if not info.ispkg and not info.name.startswith("_"):
                assert f"::: {package}.{info.name}\n" in text + "\n", info.name


def test_every_subpackage_with_all_is_documented():
    for info in pkgutil.iter_modules(hyperssl.__path__, "hyperssl."):
        if info.ispkg and info.name not in ("hyperssl.cli", "hyperssl.configs"):
            source = (REPO / "src" / Path(*info.name.split(".")) / "__init__.py").read_text()
            if "__all__" in source:
                assert info.name in API_PAGES, info.name


def test_every_included_section_exists():
    for name, section in includes():
        text = (REPO / name).read_text()
        if section:
            assert f"--8<-- [start:{section}]" in text, (name, section)
            assert f"--8<-- [end:{section}]" in text, (name, section)


def test_every_readme_section_is_on_some_page():
    included = {section for name, section in includes() if name == "README.md"}
    marked = set(SECTION_START.findall((REPO / "README.md").read_text()))
    assert marked <= included, f"README sections on no page: {sorted(marked - included)}"


def test_the_build_output_is_not_committed():
    assert "site/" in (REPO / ".gitignore").read_text().splitlines()


def test_sphinx_roles_in_docstrings_become_optional_links():
    spec = importlib.util.spec_from_file_location("griffe_roles", DOCS / "griffe_roles.py")
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    code = '''
def helper(): ...
def loss():
    """Like :func:`helper`; see :class:`~hyperssl.geometries.Geometry` and :mod:`torch.nn`."""
'''
    with griffe.temporary_visited_module(
        code, extensions=griffe.load_extensions(roles.SphinxRolesToLinks)
    ) as module:
        text = module["loss"].docstring.value
    path = module.path
    assert text == (
        f'Like <autoref identifier="{path}.helper" optional><code>helper</code></autoref>; see '
        '<autoref identifier="hyperssl.geometries.Geometry" optional><code>Geometry</code>'
        "</autoref> and <code>torch.nn</code>."
    )


LIST_ITEM = re.compile(r"^( *)(?:[-*] |\d+\. )")


def list_layout_faults(docstring: str) -> list[str]:
    """Lines where Python-Markdown (the site's renderer) would not see the list the text shows:
    an item right after a paragraph line (it needs a blank line first), an item nested by fewer
    than 4 spaces, or an unindented paragraph line right after an item (it joins the item)."""
    faults = []
    in_item = in_fence = False
    previous = ""
    for line in docstring.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or line.lstrip().startswith(">>>"):
            previous, in_item = line, False
            continue
        item = LIST_ITEM.match(line)
        if item and len(item.group(1)) == 0 and previous.strip() and not in_item:
            faults.append(f"no blank line before the list: {line.strip()[:60]}")
        if item and 0 < len(item.group(1)) < 4 and in_item:
            faults.append(f"nested by {len(item.group(1))} spaces, not 4: {line.strip()[:60]}")
        if not item and line.strip() and not line.startswith(" ") and in_item:
            faults.append(f"paragraph joins the list item above: {line.strip()[:60]}")
        if item:
            in_item = True
        elif not line.strip():
            in_item = False
        previous = line
    return faults


def test_list_layout_faults_are_found():
    assert list_layout_faults("Text:\n\n- a\n  more\n    - b\n- c\n\nAfter.") == []
    assert len(list_layout_faults("Text:\n- a")) == 1
    assert len(list_layout_faults("Text:\n\n- a\n  - b")) == 1
    assert len(list_layout_faults("Text:\n\n- a\nAfter.")) == 1


def test_docstring_lists_render_as_lists():
    faults = []
    package = griffe.load("hyperssl", search_paths=[REPO / "src"])

    def visit(obj) -> None:
        if obj.is_alias:
            return
        if obj.docstring is not None:
            faults.extend(f"{obj.path}: {f}" for f in list_layout_faults(obj.docstring.value))
        for member in obj.members.values():
            visit(member)

    visit(package)
    assert faults == []
