"""A malformed ``backbone.safetensors`` given to main_knn.py or main_linear.py (a broken header,
foreign tensors, metadata that is not the backbone config main_pretrain.py writes) is one line
naming the file, exit status 2, no traceback, and the file unchanged."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra_runs import linear_overrides, run_entry_cases
from safetensors import safe_open
from safetensors.torch import save_file

KEY = "pretrained_feature_extractor"


def _raw(header: dict | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    """A safetensors file: 8-byte little-endian header length, the JSON header, the data."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


ONE_FLOAT = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
RAW_FILES: dict[str, bytes] = {
    "empty_file": b"",
    "header_not_json": _raw(b"{not json"),
    "header_length_beyond_the_file": _raw(b"{}", length=10**6),
    "unknown_dtype": _raw({"w": {**ONE_FLOAT, "dtype": "Z9"}}, bytes(4)),
    "entry_not_a_tensor": _raw({"w": "hello"}),
    "offsets_not_the_shape": _raw({"w": {**ONE_FLOAT, "shape": [2]}}, bytes(4)),
    "metadata_value_not_a_string": _raw(
        {"__metadata__": {"backbone": 5}, "w": ONE_FLOAT}, bytes(4)
    ),
}

Edit = Callable[[dict[str, torch.Tensor], dict[str, str]], None]


def _metadata(name: str, value: str) -> Edit:
    return lambda state, metadata: metadata.__setitem__(name, value)


def _backbone(change: Callable[[dict], None]) -> Edit:
    def edit(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
        backbone = json.loads(metadata["backbone"])
        change(backbone)
        metadata["backbone"] = json.dumps(backbone)

    return edit


def _first_weight_as(dtype: torch.dtype) -> Edit:
    def edit(state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
        name = next(name for name, t in state.items() if t.is_floating_point())
        state[name] = torch.ones_like(state[name], dtype=dtype)

    return edit


# name -> (how a genuine backbone.safetensors is changed, what the line says after the path)
EDITED_FILES: dict[str, tuple[Edit, str]] = {
    "no_metadata": (lambda state, metadata: metadata.clear(), "has no backbone metadata"),
    "backbone_not_json": (
        _metadata("backbone", "{oops"),
        "has malformed backbone metadata: 'backbone' is not JSON",
    ),
    "backbone_a_list": (
        _metadata("backbone", "[1, 2]"),
        "has malformed backbone metadata: 'backbone' is a JSON list",
    ),
    "unknown_backbone": (
        _backbone(lambda backbone: backbone.update(name="resnet19")),
        "has malformed backbone metadata: backbone.name: unknown backbone 'resnet19'",
    ),
    "backbone_width_not_a_number": (
        _backbone(lambda backbone: backbone["kwargs"].update(width="abc")),
        "has malformed backbone metadata: backbone.kwargs.width: ",
    ),
    "backbone_misspelt_kwarg": (
        _backbone(lambda backbone: backbone["kwargs"].update(widht=8)),
        "has malformed backbone metadata: backbone.kwargs.widht: unknown key",
    ),
    "image_size_not_a_number": (
        _metadata("image_size", "big"),
        "has malformed backbone metadata: 'image_size' is 'big'",
    ),
    "image_size_huge": (
        _metadata("image_size", "1000000"),
        "has malformed backbone metadata: 'image_size' is '1000000'",
    ),
    "integer_weights": (_first_weight_as(torch.int32), "is torch.int32, but the backbone's"),
    "boolean_weights": (_first_weight_as(torch.bool), "is torch.bool, but the backbone's"),
}


def write_cases(root: Path, genuine: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (the malformed file, the expected start of the error line, a part it holds)."""
    cases = {}
    for name, content in RAW_FILES.items():
        path = root / name / "backbone.safetensors"
        path.parent.mkdir()
        path.write_bytes(content)
        cases[name] = (path, f"error: {KEY}: {path} is not a readable safetensors file (", "")
    for name, (edit, message) in EDITED_FILES.items():
        with safe_open(str(genuine), framework="pt") as file:
            metadata = dict(file.metadata())
            state = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
        edit(state, metadata)
        path = root / name / "backbone.safetensors"
        path.parent.mkdir()
        save_file(state, str(path), metadata=metadata)
        if name.endswith("_weights"):  # the line names the tensor between path and message
            cases[name] = (path, f"error: {KEY}: {path}: ", message)
        else:
            cases[name] = (path, f"error: {KEY}: {path} {message}", "")
    return cases


@pytest.fixture(scope="module")
def outcomes(pretrained_run, cifar10_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("malformed_safetensors")
    cases = write_cases(root, pretrained_run / "backbone.safetensors")
    contents = {name: path.read_bytes() for name, (path, *_) in cases.items()}
    knn = {
        name: [
            f"{KEY}={path}",
            "data=cifar10",
            f"data.train_path={cifar10_root}",
            "data.num_workers=0",
            "knn.feature_type=[backbone]",  # a backbone.safetensors has no projector
            f"feature_cache.dir={root / 'cache'}",
            f"hydra.run.dir={root / 'runs' / name}",
        ]
        for name, (path, *_) in cases.items()
    }
    results = run_entry_cases("main_knn.py", knn)
    linear = {
        f"linear_{name}": [
            *linear_overrides(cases[name][0], cifar10_root, root / "cache", epochs=1),
            f"hydra.run.dir={root / 'linear_runs' / name}",
        ]
        for name in LINEAR_CASES
    }
    results |= run_entry_cases("main_linear.py", linear)
    unchanged = all(path.read_bytes() == contents[name] for name, (path, *_) in cases.items())
    return cases, results, unchanged


LINEAR_CASES = ["header_not_json", "backbone_not_json", "integer_weights"]
RUNS = [("knn", name) for name in [*RAW_FILES, *EDITED_FILES]] + [
    ("linear", name) for name in LINEAR_CASES
]


@pytest.mark.parametrize(("program", "name"), RUNS)
def test_malformed_safetensors_is_one_line_naming_the_file(program, name, outcomes):
    cases, results, _ = outcomes
    result = results[name if program == "knn" else f"linear_{name}"]
    _, start, part = cases[name]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith(start) and part in lines[0], lines[0]


def test_malformed_files_are_left_as_they_were(outcomes):
    _, _, unchanged = outcomes
    assert unchanged
