#!/usr/bin/env bash
# Starts an smac-rs cluster on this machine: one smac-scheduler and N worker processes.
#
# usage: utils/smac-local-cluster.sh [-n NWORKERS] [-f SCHEDULER_FILE] [-r RESOURCES]
#                                    [-H HOST] [-- OPTIMIZER COMMAND...]
#
#   -n NWORKERS        worker processes (default: number of CPUs)
#   -f FILE            scheduler file (default ./smac-scheduler.json)
#   -r RESOURCES       resources of each worker process, e.g. GPU=1,MEMORY=10e9
#   -H HOST            interface the scheduler listens on (default 127.0.0.1)
#
# With an optimizer command, runs it with SMAC_SCHEDULER_FILE exported (attach with
# Client::from_scheduler_file) and stops the cluster when it exits, returning its exit code.
# Without one, runs until Ctrl-C / SIGTERM. See docs/cluster.md.
set -u
. "${SMAC_UTILS:-$(dirname "$0")}/smac-cluster-common.sh"

nworkers=$(nproc 2>/dev/null || echo 2)
file=$PWD/smac-scheduler.json
resources=""
host=127.0.0.1
while getopts "n:f:r:H:h" opt; do
  case $opt in
    n) nworkers=$OPTARG ;;
    f) file=$OPTARG ;;
    r) resources=$OPTARG ;;
    H) host=$OPTARG ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift

trap smac_stop EXIT
trap 'smac_stop; exit 0' INT TERM HUP
smac_start_scheduler "$file" --host "$host" || exit 1
smac_worker_cmd "$file" "$nworkers" "$resources"
"${SMAC_WORKER_CMD[@]}" &
SMAC_PIDS+=($!)
export SMAC_SCHEDULER_FILE=$file
smac_run_or_wait "$@"
