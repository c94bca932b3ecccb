#!/usr/bin/env bash
# Starts an smac-rs cluster with mpirun (as dask-mpi does): rank 0 runs the scheduler and the
# optimizer, every other rank a worker.
#
# usage: mpirun -np N utils/smac-mpi-cluster.sh [-f SCHEDULER_FILE] [-w WORKERS_PER_RANK]
#                                               [-r RESOURCES] [-- OPTIMIZER COMMAND...]
#
#   -f FILE   scheduler file on a shared file system (default ./smac-scheduler.json)
#   -w N      worker processes per rank (default 1)
#   -r SPEC   resources of each worker process, e.g. GPU=1
#
# Rank 0 runs the optimizer command with SMAC_SCHEDULER_FILE exported and then shuts the
# scheduler down, which ends the workers and so the whole mpirun; without a command it runs
# until killed. The rank is read from OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK,
# MV2_COMM_WORLD_RANK or SLURM_PROCID. MPI itself is only used to start the processes.
set -u
. "${SMAC_UTILS:-$(dirname "$0")}/smac-cluster-common.sh"

file=$PWD/smac-scheduler.json
per_rank=1
resources=""
while getopts "f:w:r:h" opt; do
  case $opt in
    f) file=$OPTARG ;;
    w) per_rank=$OPTARG ;;
    r) resources=$OPTARG ;;
    *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
case $file in /*) ;; *) file=$PWD/$file ;; esac

rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-${MV2_COMM_WORLD_RANK:-${SLURM_PROCID:-}}}}}
if [ -z "$rank" ]; then
  smac_log "no MPI rank in the environment: start this script with mpirun/mpiexec/srun"
  exit 2
fi

if [ "$rank" != 0 ]; then
  # Waits for the scheduler file and re-reads it, so a stale file from an earlier run is fine.
  smac_worker_cmd "$file" "$per_rank" "$resources"
  exec "${SMAC_WORKER_CMD[@]}"
fi

trap smac_stop EXIT
trap 'smac_stop; exit 0' INT TERM HUP
smac_start_scheduler "$file" --host "${SMAC_SCHEDULER_HOST:-0.0.0.0}" || exit 1
export SMAC_SCHEDULER_FILE=$file
smac_run_or_wait "$@"
