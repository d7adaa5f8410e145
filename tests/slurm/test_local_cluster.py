"""``hydra/launcher=slurm`` against a real SLURM cluster on this machine (scripts/slurm/).

Skipped, for one reason, unless a cluster answers ``sinfo``: one started by
``scripts/slurm/start_local_cluster.sh`` (found through its default state folder) or the one
``SLURM_CONF`` names; or, with ``HYPERSSL_SLURM_TESTS=1`` on a machine that allows it (root and
apt-get), one this session starts (installing Debian's packages if missing: ~10 s, the start
itself ~1 s) and stops. The jobs' run directories are under pytest's tmp_path, so the cluster's
nodes must see this machine's files: a local cluster.
"""

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra_runs import REPO, TINY, entry_environment

SCRIPTS = REPO / "scripts" / "slurm"
# start_local_cluster.sh's default state folder, which holds its slurm.conf.
DEFAULT_STATE = Path("/tmp/hyperssl-slurm")


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
    # Not under pytest's tmp_path: munged wants every folder above its socket searchable by all.
    state = Path(tempfile.mkdtemp(prefix="hyperssl-slurm-"))
    subprocess.run([SCRIPTS / "start_local_cluster.sh", "--state", state], check=True, timeout=600)
    try:
        yield {**environment, "SLURM_CONF": str(state / "slurm.conf")}
    finally:
        subprocess.run([SCRIPTS / "stop_local_cluster.sh", "--state", state], check=True)
        shutil.rmtree(state)


def test_a_two_job_sweep_runs_as_slurm_jobs_and_is_collected(slurm_environment, tmp_path):
    sweep = tmp_path / "sweep"
    launcher = subprocess.run(
        [sys.executable, REPO / "main_pretrain.py", "-m", "hydra/launcher=slurm", *TINY]
        + ["geometry=cosine,geodesic", f"hydra.sweep.dir={sweep}"],
        cwd=REPO,
        env=slurm_environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert launcher.returncode == 0, launcher.stderr[-3000:]
    # submitit's record of each job (<SLURM job id>_<job number>/): both ran under slurmctld.
    assert len(list(sweep.glob(".submitit/*_[01]/*_result.pkl"))) == 2
    assert len(list(sweep.glob("*/summary.json"))) == 2

    collected = subprocess.run(
        [sys.executable, REPO / "scripts" / "collect_results.py", sweep],
        cwd=REPO,
        env=slurm_environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr[-3000:]
    with open(sweep / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["geometry"] for row in rows) == ["cosine", "geodesic"]
    assert all(row["global_step"] == "3" for row in rows), rows
