"""Every ```python block of the README's "Use it in your own code" section runs as it is.

Each block is executed on its own, in a fresh namespace, in an empty working directory; a block
that reads ``backbone.safetensors`` finds one there, written by the writer of pretraining runs.
The test ids name the README line where the block starts.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra_runs import REPO

START = "<!-- --8<-- [start:use-in-code] -->"
END = "<!-- --8<-- [end:use-in-code] -->"
BACKBONE_FILE = "backbone.safetensors"
# What the section shows, one API each: some block must contain each of these.
TOPICS = {
    "losses with geometry=": "geometry=",
    "MHE regularizer": "MHE(",
    "HCR regularizer": "HCR(",
    "spherization classifier": "SphericLinear(",
    "a method in your own Trainer": "trainer.fit(",
    "backbone.safetensors without hyperssl": BACKBONE_FILE,
}
_FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def section_blocks(readme: str) -> list[tuple[int, str]]:
    """(README line of the block's first code line, code) of each ```python block between the
    section's markers."""
    start, end = readme.index(START), readme.index(END)
    blocks = []
    for match in _FENCE.finditer(readme, start, end):
        line = readme.count("\n", 0, match.start(1)) + 1
        blocks.append((line, match.group(1)))
    return blocks


BLOCKS = section_blocks((REPO / "README.md").read_text())


def _without_hyperssl(real_import: Callable[..., Any]) -> Callable[..., Any]:
    """``__import__`` refusing hyperssl, which is already in ``sys.modules`` here."""

    def guarded(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "hyperssl" or name.startswith("hyperssl."):
            raise ImportError(f"the block imports {name}, but must load without hyperssl")
        return real_import(name, *args, **kwargs)

    return guarded


def write_backbone_file(folder: Path) -> torch.nn.Module:
    """``backbone.safetensors`` of ``backbone=resnet18`` as a pretraining run writes it; returns
    the backbone it holds."""
    from hyperssl.cli.artifacts import save_backbone
    from hyperssl.cli.compose import compose_config
    from hyperssl.methods.base import backbone_from_config, pretrain_crop_size

    cfg = compose_config("pretrain", ["backbone=resnet18"])
    torch.manual_seed(1)
    backbone = backbone_from_config(cfg, pretrain_crop_size(cfg))
    save_backbone(backbone, folder / BACKBONE_FILE, cfg)
    return backbone.eval()


def run_block(line: int, code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Execute ``code`` in ``namespace`` (returned); a traceback names the README's own lines."""
    padded = "\n" * (line - 1) + code
    exec(compile(padded, "README.md", "exec"), namespace)
    return namespace


def test_the_section_has_a_block_for_every_topic():
    assert len(BLOCKS) >= len(TOPICS) - 1  # one block may show two topics
    missing = [
        topic for topic, text in TOPICS.items() if not any(text in code for _, code in BLOCKS)
    ]
    assert not missing


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_block_runs(line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    if BACKBONE_FILE in code:
        write_backbone_file(tmp_path)
        namespace["__builtins__"] = {
            **vars(builtins),
            "__import__": _without_hyperssl(builtins.__import__),
        }
    torch.manual_seed(0)
    run_block(line, code, namespace)


def test_loaded_backbone_gives_the_saved_networks_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The network the block rebuilds without hyperssl is hyperssl's: the same features."""
    ((line, code),) = [(line, code) for line, code in BLOCKS if BACKBONE_FILE in code]
    monkeypatch.chdir(tmp_path)
    saved = write_backbone_file(tmp_path)
    loaded = run_block(line, code, {"__name__": "__readme__"})["backbone"]
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), saved(images))
