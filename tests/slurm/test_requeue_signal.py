"""A requeue signal that reaches a SLURM job while submitit unpickles it (before submitit has
installed its handlers) is kept and handed to submitit's handler once the job runs, instead of
ending the process with the signal's default action: neither saved nor requeued."""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("submitit", reason='pip install "hyperssl[slurm]"')

# Pickles a job as submitit does, with the requeue signal sent to this process while the
# launcher's config and the job's arguments are unpickled, then installs a handler in place of
# submitit's and runs the job.
JOB = textwrap.dedent(
    """
    import os
    import pickle
    import signal
    import sys

    import cloudpickle
    from submitit.core.utils import DelayedSubmission

    from hydra_plugins.hyperssl_launchers._slurm import QueueWatchingSlurmLauncher


    class SignalledWhileUnpickled:
        def __reduce__(self):
            return (os.kill, (os.getpid(), signal.SIGUSR2))


    def requeue(signum, frame):
        print("requeued", signal.Signals(signum).name)
        sys.exit(3)


    launcher = QueueWatchingSlurmLauncher()
    launcher.config = SignalledWhileUnpickled()
    job = pickle.loads(cloudpickle.dumps(DelayedSubmission(launcher, SignalledWhileUnpickled())))
    print("unpickled")
    signal.signal(signal.SIGUSR2, requeue)
    job.result()
    """
)


def test_a_signal_received_while_the_job_is_unpickled_reaches_submitits_handler():
    result = subprocess.run(
        [sys.executable, "-c", JOB], capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout.splitlines()) == (
        3,
        ["unpickled", "requeued SIGUSR2"],
    ), result.stderr
