"""The benchmarks' busy neighbour: a process that loads the cores for exactly the block."""

import os
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def neighbour(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from benchmarking import neighbour

    return neighbour


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_busy_neighbour_computes_on_our_cores_inside_the_block_and_is_gone_after(neighbour):
    with neighbour.busy_neighbour(1, size=64) as process:
        assert os.sched_getaffinity(process.pid) == os.sched_getaffinity(0)
        before = cpu_seconds(process.pid)
        time.sleep(1.0)
        busy = cpu_seconds(process.pid) - before
    # Computing, not idle (an idle process gets ~0 s): at least a tenth of a core, since the
    # suite's other workers and their runs share the cores (0.29 s of 0.5 s was seen in CI).
    assert busy > 0.1
    assert process.poll() is not None


def test_quiet_block_starts_no_process(neighbour):
    with neighbour.busy_neighbour(0) as process:
        assert process is None
    assert neighbour.neighbour_label(0) == "quiet"
    assert neighbour.neighbour_label(2) == "busy neighbour (2 threads)"
