#!/usr/bin/env bash
# Stop what scripts/slurm/start_local_cluster.sh started: first the cluster's jobs, then each
# daemon named by a PID file in the state folder, and only while that PID is still the daemon
# the file names (a PID reused by another program is left alone). Safe to run twice; the state
# folder (configuration, munge key, job state, logs) stays for the next start or a look at the
# logs.
#
#   scripts/slurm/stop_local_cluster.sh [--state DIR]     # default /tmp/hyperssl-slurm
set -euo pipefail

state=/tmp/hyperssl-slurm
while [ $# -gt 0 ]; do
    case "$1" in
        --state) state="$2"; shift 2 ;;
        -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "stop_local_cluster.sh: unknown argument '$1' (allowed: --state DIR)" >&2; exit 2 ;;
    esac
done

# Whether PID file $1 names a live process whose command is $2.
running() {
    [ -f "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = "$2" ]
}

# Stop the daemon of PID file $1 if its process is command $2; wait up to 10 s for it to exit.
stop() {
    local pid_file="$1" daemon="$2" pid
    if ! running "$pid_file" "$daemon"; then
        rm -f "$pid_file"
        return 0
    fi
    pid="$(cat "$pid_file")"
    kill -TERM "$pid"
    for _ in $(seq 50); do
        [ -d "/proc/$pid" ] || break
        sleep 0.2
    done
    if [ -d "/proc/$pid" ]; then
        echo "stop_local_cluster.sh: $daemon ($pid) still running after 10 s" >&2
        return 1
    fi
    rm -f "$pid_file"
    echo "stopped $daemon $pid"
}

# The jobs first: a job's slurmstepd and its processes outlive slurmd, so cancel every job of
# this cluster while the controller still runs, and wait (KillWait, 30 s, and a margin) until
# none is left on a node.
if running "$state/slurmctld.pid" slurmctld; then
    export SLURM_CONF="$state/slurm.conf"
    jobs="$(squeue -h -o '%A' | paste -sd ' ')"
    if [ -n "$jobs" ]; then
        # shellcheck disable=SC2086  # one argument per job id
        scancel $jobs
        for _ in $(seq 80); do
            [ -z "$(squeue -h -o '%A')" ] && break
            sleep 0.5
        done
        echo "cancelled jobs $jobs"
    fi
fi

# Then the compute nodes, the controller and munge, which both of them authenticate through.
status=0
for pid_file in "$state"/slurmd-*.pid; do
    [ -e "$pid_file" ] || continue
    stop "$pid_file" slurmd || status=1
done
stop "$state/slurmctld.pid" slurmctld || status=1
stop "$state/munged.pid" munged || status=1
exit "$status"
