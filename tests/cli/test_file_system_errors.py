"""What the file system refuses ends in one line and exit 74 (EX_IOERR), never a traceback: a
file where the run directory or one of its parents should be, a disk that fills while a
checkpoint is saved. Nothing that was there before changes."""

import errno

import pytest
from full_disk import FULL_DISK_AVAILABLE, on_a_full_disk
from hydra_runs import REPO, TINY, run_entry_cases

from hyperssl.cli.errors import EXIT_FILE_SYSTEM, describe_file_system_error


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("file_system")
    a_file = root / "a_file"
    a_file.write_text("not a run directory\n")
    results = run_entry_cases(
        "main_pretrain.py",
        {
            "run_dir_is_a_file": [*TINY, f"hydra.run.dir={a_file}"],
            "run_dir_under_a_file": [*TINY, f"hydra.run.dir={a_file / 'run'}"],
        },
    )
    if FULL_DISK_AVAILABLE:
        wrapper = on_a_full_disk(REPO / "main_pretrain.py", root)
        full = root / "full_disk_run"
        results |= run_entry_cases(str(wrapper), {"full_disk": [*TINY, f"hydra.run.dir={full}"]})
    return root, results


def last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("run_dir_is_a_file", "a_file: is a file where a directory should be; allowed: "),
        ("run_dir_under_a_file", "a_file/run: has a file among its parent directories"),
    ],
)
def test_a_file_in_the_way_is_one_line_and_left_alone(outcomes, name, problem):
    root, results = outcomes
    result = results[name]
    assert result.returncode == EXIT_FILE_SYSTEM, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {root}/{problem}"), lines
    assert "Traceback" not in result.stderr
    assert (root / "a_file").read_text() == "not a run directory\n"


@pytest.mark.skipif(not FULL_DISK_AVAILABLE, reason="needs /dev/full")
def test_a_full_disk_while_saving_names_the_checkpoint_and_leaves_no_partial_file(outcomes):
    root, results = outcomes
    result = results["full_disk"]
    checkpoints = root / "full_disk_run" / "checkpoints"
    assert result.returncode == EXIT_FILE_SYSTEM, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert last_line(result) == (
        f"error: {checkpoints / 'last.ckpt'}: No space left on device; allowed: free some "
        "space, or another disk (hydra.run.dir=..., feature_cache.dir=...)"
    )
    assert list(checkpoints.iterdir()) == []  # neither a checkpoint nor a temporary
    assert not (root / "full_disk_run" / "summary.json").exists()


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/data/train"),
            "/data/train: Permission denied; allowed: check its permissions, or choose another "
            "path",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/runs/x"),
            "/runs/x: Read-only file system; allowed: a writable path",
        ),
    ],
)
def test_permissions_and_read_only_disks_are_described_through_the_errors_they_cause(error, line):
    try:
        try:
            raise error
        except OSError as cause:
            raise RuntimeError("unexpected pos 64 vs 0") from cause
    except RuntimeError as raised:
        assert describe_file_system_error(raised) == line


def test_other_errors_are_not_file_system_errors():
    assert describe_file_system_error(OSError(errno.ECONNREFUSED, "Connection refused")) is None
    assert describe_file_system_error(ValueError("no")) is None
