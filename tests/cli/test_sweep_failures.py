"""A sweep job that fails does not stop the sweep: the others run, the failure is reported in
one line, and the sweep's exit status says that jobs failed."""

import pytest
from hydra_runs import TINY, run_entry

from hyperssl.cli.errors import EXIT_SWEEP_JOBS_FAILED

# Hydra's basic launcher runs the jobs in the sweep's process, local_parallel in joblib's workers.
LAUNCHERS = {"basic": [], "local_parallel": ["hydra/launcher=local_parallel"]}


@pytest.mark.parametrize("launcher", LAUNCHERS.values(), ids=LAUNCHERS.keys())
def test_a_bad_job_fails_alone_and_the_sweep_exits_4_naming_it(tmp_path, launcher):
    sweep = tmp_path / "sweep"
    result = run_entry(
        "main_pretrain.py",
        ["-m", *launcher, *TINY, "optimizer.lr=0.1,-1,0.2", f"hydra.sweep.dir={sweep}"],
        timeout=600,
    )
    assert result.returncode == EXIT_SWEEP_JOBS_FAILED, result.stderr[-3000:]
    jobs = {path.name.split("_")[0]: path for path in sweep.iterdir() if path.is_dir()}
    assert sorted(jobs) == ["0", "1", "2"]
    assert (jobs["0"] / "summary.json").is_file() and (jobs["2"] / "summary.json").is_file()
    assert not (jobs["1"] / "summary.json").exists()

    line = f"job 1 failed ({jobs['1']}): optimizer.lr: got -1.0; allowed: > 0"
    assert "Traceback" not in result.stderr
    # Printed when the job failed, and as the sweep's last line.
    assert result.stderr.count(f"error: {line}") == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {line}"
    assert line in (jobs["1"] / "pretrain.log").read_text()
