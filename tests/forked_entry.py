"""Run the entry points for many argument lists, each in a forked copy of a process that imported
their dependencies once: what ``python <script> args`` does for each list, without paying the
seconds of importing torch, Lightning and Hydra every time (hand-written: pytest-xdist and the
like parallelise tests, not the start-up of the process a test runs).

    python tests/forked_entry.py

A server: it imports once, then reads batches from stdin, one JSON object a line,
``{"script": ..., "cases": <cases.json>, "out": <out_dir>, "workers": N}``, runs each batch's
cases at most N at a time, and answers ``done`` on stdout when all have ended; it stops at the
end of its input. ``cases.json`` maps a case name to its arguments; each case leaves
``<name>.stdout``, ``<name>.stderr`` and ``<name>.rc`` (the exit status) in ``out_dir``. The
child runs the script as ``__main__`` with ``sys.argv`` and ``sys.path[0]`` as Python would set
them, and with nothing on stdin; the current directory and the environment are the server's.
Call it through :func:`hydra_runs.run_entry_cases`, which keeps one server per test process.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
import traceback
from pathlib import Path


def run_child(script: Path, args: list[str], stem: Path) -> None:
    """Run ``script`` with ``args`` in this (forked) process, its output to ``stem``.*; exit."""
    # The server's stdin carries its batches: nothing of it for the case.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, suffix in ((1, "stdout"), (2, "stderr")):
        target = os.open(f"{stem}.{suffix}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = [str(script), *args]
    sys.path[0] = str(script.parent)
    code = 0
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as stop:
        if isinstance(stop.code, str):  # as the interpreter does: the message, status 1
            print(stop.code, file=sys.stderr)
            code = 1
        else:
            code = stop.code or 0
    except BaseException:
        traceback.print_exc()
        code = 1
    # What the interpreter does at its exit and os._exit skips, in its order: join the threads
    # (running threading's own exit hooks, such as loky's executor shutdown), then the atexit
    # handlers. Without it the loky workers of a local_parallel sweep outlived the case by their
    # idle timeout (300 s, 1 GB each).
    threading._shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    Path(f"{stem}.rc").write_text(str(code))
    os._exit(code)


def run_batch(script: Path, cases: dict[str, list[str]], out_dir: Path, workers: int) -> None:
    """Every case of ``cases`` in a child of its own, at most ``workers`` at a time; returns
    when all have ended."""
    running: dict[int, Path] = {}

    def reap_one() -> None:
        pid, status = os.wait()
        rc_file = Path(f"{running.pop(pid)}.rc")
        if not rc_file.exists():  # killed before it could write one: what Popen would report
            rc_file.write_text(str(os.waitstatus_to_exitcode(status)))

    for name, args in cases.items():
        if len(running) >= workers:
            reap_one()
        pid = os.fork()
        if pid == 0:
            run_child(script, args, out_dir / name)
        running[pid] = out_dir / name
    while running:
        reap_one()


def main() -> None:
    # What every case would do again, done once and shared by the forks copy-on-write: the
    # imports (torch, Lightning, every part's module), the registration of every part's schema
    # (importing the commands' module does both) and Hydra's scan for its launcher and sweeper
    # plugins. A case then takes a quarter of a second to reach a bad input's error, not 1.5.
    from hydra.core.plugins import Plugins

    import hyperssl.cli.commands  # noqa: F401

    Plugins.instance()
    for line in sys.stdin:
        batch = json.loads(line)
        cases = json.loads(Path(batch["cases"]).read_text())
        run_batch(Path(batch["script"]).resolve(), cases, Path(batch["out"]), batch["workers"])
        print("done", flush=True)


if __name__ == "__main__":
    main()
