"""The feature cache is keyed by the checkpoint's content, and an evaluation whose cache cannot
be written (a file where its folder should be, a full disk) completes with one warning and the
same numbers as without a cache."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from full_disk import FULL_DISK_AVAILABLE, on_a_full_disk
from hydra_runs import REPO, compose_pretrain, linear_overrides, run_entry_cases
from safetensors import safe_open
from safetensors.torch import save_file

from hyperssl.cli import knn
from hyperssl.eval.feature_cache import FeatureCache, file_fingerprint

KNN_SWEEP = ["knn.k=[1,5]", "knn.temperature=[0.2]", "knn.feature_type=[backbone]"]
WARNING = "cannot be written"


def knn_overrides(weights: Path, cifar10_root: Path, cache_dir: Path) -> list[str]:
    return [
        f"pretrained_feature_extractor={weights}",
        "data=cifar10",
        f"data.train_path={cifar10_root}",
        "data.num_workers=0",
        f"feature_cache.dir={cache_dir}",
        *KNN_SWEEP,
    ]


def run_knn(overrides: list[str], run_dir: Path) -> dict:
    return knn.run(compose_pretrain(overrides, run_dir, config_name="knn"))


def _replace_keeping_size_and_mtime(weights: Path) -> None:
    """Other weights (same names, shapes, dtypes and metadata, so the same size) written over
    ``weights``, whose modification time is then set back."""
    before = weights.stat()
    with safe_open(str(weights), framework="pt") as file:
        metadata = file.metadata()
        state = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
    generator = torch.Generator().manual_seed(1)
    other = {  # BatchNorm's running statistics kept: the features stay finite
        name: t
        if "running" in name or not t.is_floating_point()
        else t + 0.5 * t.std() * torch.randn(t.shape, generator=generator).to(t.dtype)
        for name, t in state.items()
    }
    save_file(other, str(weights), metadata=metadata)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = weights.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_checkpoint_replaced_with_same_size_and_mtime_misses_the_cache(
    pretrained_run, cifar10_root, tmp_path
):
    weights = tmp_path / "model" / "backbone.safetensors"
    weights.parent.mkdir()
    shutil.copy(pretrained_run / "backbone.safetensors", weights)
    cache = tmp_path / "cache"
    run_knn(knn_overrides(weights, cifar10_root, cache), tmp_path / "first")
    first_entries = set(cache.glob("*.pt"))
    assert len(first_entries) == 2  # train and val features

    _replace_keeping_size_and_mtime(weights)
    replaced = run_knn(knn_overrides(weights, cifar10_root, cache), tmp_path / "replaced")
    fresh = run_knn(knn_overrides(weights, cifar10_root, tmp_path / "fresh"), tmp_path / "new")
    assert len(set(cache.glob("*.pt")) - first_entries) == 2  # both splits missed
    for name in ("knn_best_top1", "knn/backbone/cosine/k1/T0.2/top1"):
        assert replaced[name] == fresh[name], name


def test_fingerprint_is_the_content_not_the_path_or_times(tmp_path):
    first, second = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    first.write_bytes(b"weights one")
    second.write_bytes(b"weights one")
    os.utime(second, ns=(1, 10**18))
    assert file_fingerprint(first) == file_fingerprint(second)
    stat = first.stat()
    first.write_bytes(b"weights two")  # the same size
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_fingerprint(first) != file_fingerprint(second)


def _full_disk_save(original):
    def save(obj, file, *args, **kwargs):
        with open("/dev/full", "wb") as full:  # every write fails with ENOSPC
            original(obj, full, *args, **kwargs)

    return save


@pytest.mark.skipif(not FULL_DISK_AVAILABLE, reason="needs /dev/full")
def test_full_disk_skips_the_cache_with_one_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(torch, "save", _full_disk_save(torch.save))
    cache = FeatureCache(tmp_path / "cache")
    calls = []
    for split in ("train", "val"):
        _, _, hit = cache.get_or_compute(
            {"split": split}, lambda: calls.append(1) or (torch.ones(2, 2), torch.zeros(2))
        )
        assert not hit
    warnings = [r for r in caplog.records if WARNING in r.getMessage()]
    assert len(calls) == 2 and len(warnings) == 1
    assert f"[Errno {errno.ENOSPC}]" in warnings[0].getMessage()
    assert list((tmp_path / "cache").iterdir()) == []  # no temporary left behind


@pytest.fixture(scope="module")
def unwritable_cache_runs(pretrained_run, cifar10_root, tmp_path_factory):
    """main_knn.py (and one main_linear.py) with a cache that cannot be written, and without a
    cache; name -> (CompletedProcess, run directory)."""
    root = tmp_path_factory.mktemp("unwritable_cache")
    a_file = root / "not_a_folder"
    a_file.write_text("a file where the cache folder should be\n")
    full_disk_knn = on_a_full_disk(REPO / "main_knn.py", root)

    def knn_args(name: str, cache_dir: Path, *extra: str) -> list[str]:
        overrides = knn_overrides(pretrained_run, cifar10_root, cache_dir)
        return [*overrides, *extra, f"hydra.run.dir={root / name}"]

    knn_cases = {
        "knn_no_cache": knn_args("knn_no_cache", root / "unused", "feature_cache.enabled=false"),
        "knn_file_as_cache_dir": knn_args("knn_file_as_cache_dir", a_file),
        "knn_cache_dir_under_a_file": knn_args("knn_cache_dir_under_a_file", a_file / "cache"),
    }
    results = run_entry_cases("main_knn.py", knn_cases)
    full = {"knn_full_disk": knn_args("knn_full_disk", root / "full_disk_cache")}
    if FULL_DISK_AVAILABLE:
        results |= run_entry_cases(str(full_disk_knn), full)

    def linear_args(name: str, cache_dir: Path, *extra: str) -> list[str]:
        overrides = linear_overrides(pretrained_run, cifar10_root, cache_dir, epochs=1)
        return [*overrides, "linear.augment=false", *extra, f"hydra.run.dir={root / name}"]

    results |= run_entry_cases(
        "main_linear.py",
        {
            "linear_no_cache": linear_args("linear_no_cache", root, "feature_cache.enabled=false"),
            "linear_file_as_cache_dir": linear_args("linear_file_as_cache_dir", a_file),
        },
    )
    assert a_file.read_text() == "a file where the cache folder should be\n"
    return {name: (result, root / name) for name, result in results.items()}


def _scores(run_dir: Path, program: str) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    prefixes = ("knn_best", "knn/") if program == "knn" else ("linear_top", "linear_val")
    return {name: value for name, value in summary.items() if name.startswith(prefixes)}


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("knn_file_as_cache_dir", "knn_no_cache"),
        ("knn_cache_dir_under_a_file", "knn_no_cache"),
        ("knn_full_disk", "knn_no_cache"),
        ("linear_file_as_cache_dir", "linear_no_cache"),
    ],
)
def test_unwritable_cache_warns_once_and_the_evaluation_completes(
    name, reference, unwritable_cache_runs
):
    if name not in unwritable_cache_runs:
        pytest.skip("needs /dev/full")
    result, run_dir = unwritable_cache_runs[name]
    reference_result, reference_dir = unwritable_cache_runs[reference]
    assert result.returncode == 0, result.stderr[-3000:]
    assert reference_result.returncode == 0, reference_result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert output.count(WARNING) == 1 and "Traceback" not in output, output[-3000:]
    program = name.split("_")[0]
    scores = _scores(run_dir, program)
    assert scores and scores == _scores(reference_dir, program)
