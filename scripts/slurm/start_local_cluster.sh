#!/usr/bin/env bash
# Start a SLURM cluster on this one machine, to try hyperssl's `hydra/launcher=slurm` path and to
# run tests/slurm/ against: munged, slurmctld and one slurmd per emulated node, all as root, with
# every file (configuration, munge key, state, logs, PID files) under one state folder, so that
# nothing in /etc or /var changes and scripts/slurm/stop_local_cluster.sh stops exactly this.
#
#   scripts/slurm/start_local_cluster.sh [--nodes N] [--state DIR]
#   export SLURM_CONF=DIR/slurm.conf      # what sinfo, sbatch and the launcher read
#
# --nodes N   emulated nodes n1..nN on this host (default 1), each a slurmd started with -N
# --state DIR the state folder (default /tmp/hyperssl-slurm)
#
# Idempotent: a daemon whose PID file names a live process is left alone, and a second run with
# the same arguments only waits for the nodes and prints the summary. Installs Debian's munge,
# slurmctld, slurmd and slurm-client (22.05 on bookworm) when they are missing (root and apt-get).
set -euo pipefail

nodes=1
state=/tmp/hyperssl-slurm
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --state) state="$2"; shift 2 ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "start_local_cluster.sh: unknown argument '$1' (allowed: --nodes N, --state DIR)" >&2
           exit 2 ;;
    esac
done
case "$nodes" in
    '' | *[!0-9]* | 0) echo "start_local_cluster.sh: --nodes '$nodes' (allowed: an integer >= 1)" >&2
                       exit 2 ;;
esac
state="$(realpath -m "$state")"

if ! command -v munged >/dev/null || ! command -v slurmctld >/dev/null \
    || ! command -v slurmd >/dev/null || ! command -v sinfo >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "start_local_cluster.sh: munge/slurm are not installed and this is not root with apt-get" >&2
        exit 1
    fi
    echo "installing munge slurmctld slurmd slurm-client"
    # The packages' own services are not started in a container (no systemd, policy-rc.d); the
    # daemons below are ours, with our configuration.
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends munge slurmctld slurmd slurm-client; } >/dev/null
fi

# slurmd's own view of this machine (CPUs, sockets, cores, threads, RealMemory in MB): a node
# configured with more than it detects is drained, so each emulated node claims exactly this.
hardware="$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]* //')"
controller_port=16817
first_node_port=16818

# The munge socket must be reachable (o+x) through every folder above it.
install -d -m 0755 "$state" "$state/munge"
install -d -m 0700 "$state/ctld"
conf="$state/slurm.conf"
new_conf="$(mktemp "$state/slurm.conf.XXXXXX")"
trap 'rm -f "$new_conf"' EXIT
{
    cat <<CONF
# Written by scripts/slurm/start_local_cluster.sh --nodes $nodes --state $state
ClusterName=hyperssl-local
# The controller is this host, reached on the loopback address; a port apart from Slurm's
# default (6817) so that a real cluster's daemons on this machine are not disturbed.
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$controller_port
# Everything runs as root: the daemons need it to start jobs, and jobs run as their submitter.
SlurmUser=root
SlurmdUser=root
# Our own munged (started below with its own key and socket), not the system's.
AuthType=auth/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$state/munge/munge.socket,cred_expire=10
StateSaveLocation=$state/ctld
SlurmctldPidFile=$state/slurmctld.pid
SlurmctldLogFile=$state/slurmctld.log
# %n: the node name, one spool folder, PID file and log per emulated node on this host.
SlurmdSpoolDir=$state/spool/%n
SlurmdPidFile=$state/slurmd-%n.pid
SlurmdLogFile=$state/slurmd-%n.log
# No cgroups in a container: track a job's processes through /proc and bind no tasks to cores.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Schedule single CPUs (not whole nodes), so that the jobs of a sweep run side by side.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# No slurmdbd: no accounting, so sacct has nothing to answer with; squeue and scontrol work.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Requeue (scontrol requeue, submitit on pre-emption or time limit) is what the tests exercise.
JobRequeue=1
# A requeued job may start again cred_expire + 1 s later, but waits for the next scheduling
# pass: every 60 s (main loop) or 30 s (backfill) by default. Every 5 s here.
SchedulerParameters=sched_interval=5,bf_interval=5
# A node whose slurmd was restarted comes back into service without an administrator.
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
# Ended jobs stay visible to squeue/scontrol (their Restarts count with them) for an hour: a
# test reads them once the last job of its sweeps has ended, which can be many minutes later.
MinJobAge=3600
# SIGTERM to SIGKILL at a time limit or cancel, as on most clusters.
KillWait=30
CONF
    for i in $(seq 1 "$nodes"); do
        # Every emulated node is this host (NodeHostname, for slurmd -N), on its own slurmd port.
        echo "NodeName=n$i NodeHostname=$(hostname -s) NodeAddr=127.0.0.1" \
            "Port=$((first_node_port + i - 1)) $hardware State=UNKNOWN"
    done
    echo "PartitionName=cpu Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP"
} >"$new_conf"

# Whether PID file $1 names a live process whose command is $2.
running() {
    [ -f "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = "$2" ]
}

anything_running=0
for pid_file in "$state"/munged.pid "$state"/slurmctld.pid "$state"/slurmd-*.pid; do
    for daemon in munged slurmctld slurmd; do
        if running "$pid_file" "$daemon"; then anything_running=1; fi
    done
done
if [ -f "$conf" ] && ! cmp -s "$conf" "$new_conf" && [ "$anything_running" = 1 ]; then
    echo "start_local_cluster.sh: a cluster with another configuration runs from $state;" \
        "stop it first (scripts/slurm/stop_local_cluster.sh --state $state)" >&2
    exit 1
fi
mv "$new_conf" "$conf"
chmod 0644 "$conf"
export SLURM_CONF="$conf"

started=()
key="$state/munge/munge.key"
[ -f "$key" ] || mungekey --create --keyfile="$key"
chmod 0400 "$key"
if ! running "$state/munged.pid" munged; then
    munged --key-file="$key" --socket="$state/munge/munge.socket" \
        --pid-file="$state/munged.pid" --log-file="$state/munged.log" \
        --seed-file="$state/munge/munged.seed"
    started+=("munged $(cat "$state/munged.pid")")
fi
if ! running "$state/slurmctld.pid" slurmctld; then
    slurmctld -f "$conf"
    # slurmctld writes its PID file once it has daemonised.
    for _ in $(seq 50); do running "$state/slurmctld.pid" slurmctld && break; sleep 0.2; done
    started+=("slurmctld $(cat "$state/slurmctld.pid")")
fi
for i in $(seq 1 "$nodes"); do
    install -d -m 0755 "$state/spool/n$i"
    if ! running "$state/slurmd-n$i.pid" slurmd; then
        slurmd -f "$conf" -N "n$i"
        for _ in $(seq 50); do running "$state/slurmd-n$i.pid" slurmd && break; sleep 0.2; done
        started+=("slurmd -N n$i $(cat "$state/slurmd-n$i.pid")")
    fi
done

# The nodes register with slurmctld within seconds; idle means they take jobs.
for _ in $(seq 120); do
    idle="$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l)"
    [ "$idle" -ge "$nodes" ] && break
    sleep 0.5
done
if [ "$idle" -lt "$nodes" ]; then
    echo "start_local_cluster.sh: $idle of $nodes nodes idle after 60 s; see $state/*.log" >&2
    sinfo -N >&2 || true
    exit 1
fi

if [ ${#started[@]} -eq 0 ]; then
    echo "already running (state $state)"
else
    printf 'started %s\n' "${started[@]}"
fi
sinfo -N -o '%N %P %t %c %m'
echo "export SLURM_CONF=$conf"
