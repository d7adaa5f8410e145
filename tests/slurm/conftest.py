"""A real SLURM cluster on this machine (scripts/slurm/) for the tests in this folder, and what
they do with it: submit a sweep, find its jobs, signal and requeue them.

Skipped, for one reason, unless a cluster answers ``sinfo``: one started by
``scripts/slurm/start_local_cluster.sh`` (found through its default state folder) or the one
``SLURM_CONF`` names; or, with ``HYPERSSL_SLURM_TESTS=1`` on a machine that allows it (root and
apt-get), a two-node one this session starts (installing Debian's packages if missing: ~10 s, the
start itself ~1 s) and stops. The jobs' run directories are under pytest's tmp_path, so the
cluster's nodes must see this machine's files: a local cluster.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra_runs import REPO, entry_environment

SCRIPTS = REPO / "scripts" / "slurm"
# start_local_cluster.sh's default state folder, which holds its slurm.conf.
DEFAULT_STATE = Path("/tmp/hyperssl-slurm")
# A test session's own cluster: its state folder's name starts so, and OWNER_FILE in it holds the
# PID of the pytest process that started it.
SESSION_STATE_PREFIX = "hyperssl-slurm-"
OWNER_FILE = "pytest.pid"


def sinfo_answers(environment: dict[str, str]) -> bool:
    """Whether ``sinfo`` reaches a controller and lists at least one node that takes jobs."""
    if shutil.which("sinfo") is None:
        return False
    try:
        nodes = subprocess.run(
            ["sinfo", "-h", "-N", "-t", "idle,mixed,allocated", "-o", "%N"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired:
        return False
    return nodes.returncode == 0 and nodes.stdout.strip() != ""


def default_cluster_runs() -> bool:
    """Whether start_local_cluster.sh's default cluster has a live slurmctld (asked before
    ``sinfo``, which would wait its 10 s message timeout for a stopped one)."""
    try:
        pid = (DEFAULT_STATE / "slurmctld.pid").read_text().strip()
        return Path(f"/proc/{pid}/comm").read_text().strip() == "slurmctld"
    except OSError:
        return False


def stop_clusters_of_ended_sessions() -> None:
    """Stop and remove the clusters that earlier test sessions started and never stopped (a
    session killed mid-way skips the fixture's teardown): their daemons would hold the ports a
    new cluster needs. A cluster whose session still runs is left alone."""
    for state in Path(tempfile.gettempdir()).glob(f"{SESSION_STATE_PREFIX}*"):
        try:
            owner = int((state / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not one of ours, or a session still writing it
        if Path(f"/proc/{owner}").exists():
            continue
        subprocess.run([SCRIPTS / "stop_local_cluster.sh", "--state", state], check=True)
        shutil.rmtree(state)


def may_start_a_cluster() -> bool:
    return (
        os.environ.get("HYPERSSL_SLURM_TESTS") == "1"
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
    )


@pytest.fixture(scope="session")
def slurm_environment() -> Iterator[dict[str, str]]:
    """The environment an entry point submits to the cluster with (SLURM_CONF set when the
    cluster is a local one)."""
    environment = entry_environment()
    if "SLURM_CONF" not in environment and default_cluster_runs():
        environment["SLURM_CONF"] = str(DEFAULT_STATE / "slurm.conf")
    if sinfo_answers(environment):
        yield environment
        return
    if not may_start_a_cluster():
        pytest.skip(
            "no SLURM cluster answers sinfo (scripts/slurm/start_local_cluster.sh starts one; "
            "HYPERSSL_SLURM_TESTS=1 lets the tests start it as root with apt-get)"
        )
    stop_clusters_of_ended_sessions()
    # Not under pytest's tmp_path: munged wants every folder above its socket searchable by all.
    state = Path(tempfile.mkdtemp(prefix=SESSION_STATE_PREFIX))
    (state / OWNER_FILE).write_text(str(os.getpid()))
    start = [SCRIPTS / "start_local_cluster.sh", "--nodes", "2", "--state", state]
    subprocess.run(start, check=True, timeout=600)
    try:
        yield {**environment, "SLURM_CONF": str(state / "slurm.conf")}
    finally:
        subprocess.run([SCRIPTS / "stop_local_cluster.sh", "--state", state], check=True)
        shutil.rmtree(state)
