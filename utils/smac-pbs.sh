#!/usr/bin/env bash
#PBS -N smac
#PBS -l nodes=2:ppn=4
#PBS -l walltime=01:00:00
#PBS -j oe
#
# An smac-rs cluster on a PBS/Torque allocation: the scheduler and your optimizer run on the
# first node (where PBS runs this script), one worker command per node of $PBS_NODEFILE.
#
# usage: qsub -v SMAC_OPTIMIZER="./target/release/my-hpo --flag" utils/smac-pbs.sh
#        (PBS Pro also takes `qsub -- utils/smac-pbs.sh OPTIMIZER COMMAND...`)
#
# Workers are started over ssh, which PBS sites allow between the nodes of a job; set
# SMAC_SSH to another launcher taking `HOST "shell command"` if yours does not. Environment
# (pass it with qsub -v or -V):
#   SMAC_BIN_DIR / SMAC_WORKER_PROGRAM  binaries, see smac-cluster-common.sh
#   SMAC_UTILS              this directory (default: $PBS_O_WORKDIR/utils)
#   SMAC_SCHEDULER_FILE     default: $PBS_O_WORKDIR/smac-scheduler-$PBS_JOBID.json
#   SMAC_WORKERS_PER_NODE   worker processes per node (default: $PBS_NUM_PPN or $NCPUS, else 1)
#   SMAC_RESOURCES          resources of each worker process, e.g. GPU=1
set -u
cd "${PBS_O_WORKDIR:-$PWD}" || exit 1
utils=${SMAC_UTILS:-$PWD/utils}
file=${SMAC_SCHEDULER_FILE:-$PWD/smac-scheduler-${PBS_JOBID:-0}.json}
per_node=${SMAC_WORKERS_PER_NODE:-${PBS_NUM_PPN:-${NCPUS:-1}}}
hosts=$(sort -u "${PBS_NODEFILE:?this script runs inside a PBS job}" | tr '\n' ' ')
if [ "$#" -eq 0 ] && [ -n "${SMAC_OPTIMIZER:-}" ]; then set -- bash -c "$SMAC_OPTIMIZER"; fi
args=(-H "$hosts" -n "$per_node" -f "$file")
if [ -n "${SMAC_RESOURCES:-}" ]; then args+=(-r "$SMAC_RESOURCES"); fi
if [ -n "${SMAC_SCHEDULER_HOST:-}" ]; then args+=(-S "$SMAC_SCHEDULER_HOST"); fi
exec bash "$utils/smac-ssh-cluster.sh" "${args[@]}" -- "$@"
