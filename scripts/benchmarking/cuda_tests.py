"""The test suite's CUDA tests (``@pytest.mark.cuda``), run by pytest in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def run_marked_tests(marker: str, cwd: Path, timeout: float) -> dict[str, Any]:
    """``pytest -m <marker>`` in ``cwd``: passed, failed, skipped and error counts (from pytest's
    JUnit XML, which counts what its summary line prints), its exit status and wall seconds.

    In one process (``-n 0``): the few marked tests do not pay for a pytest-xdist worker per core,
    each collecting the whole suite. A test file that cannot be collected there (one needing a
    package the GPU machine lacks) is counted among the errors, and the marked tests still run.
    Past ``timeout`` the run's whole process group is killed
    (workers and servers the tests started included, which may hold a GPU) and
    :class:`subprocess.TimeoutExpired` raised.
    """
    with tempfile.TemporaryDirectory(prefix="hyperssl-cuda-tests-") as folder:
        report = Path(folder) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-m", marker, "-q", "-p", "no:cacheprovider"]
        command.append("--continue-on-collection-errors")
        start = time.perf_counter()
        with subprocess.Popen(
            [*command, "-n", "0", f"--junitxml={report}"],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise
        seconds = time.perf_counter() - start
        # No file when pytest stopped before running anything (e.g. a collection error).
        suite = ET.parse(report).getroot().iter("testsuite") if report.is_file() else []
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for node in suite:
            for name in counts:
                counts[name] += int(node.get(name, 0))
    failed, errors, skipped = counts["failures"], counts["errors"], counts["skipped"]
    return {
        "passed": counts["tests"] - failed - errors - skipped,
        "failed": failed,
        "skipped": skipped,
        "errors": errors,
        "exit_status": process.returncode,
        "seconds": seconds,
        "summary": (stdout.strip().splitlines() or [""])[-1],
    }
