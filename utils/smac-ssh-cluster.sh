#!/usr/bin/env bash
# Starts an smac-rs cluster over ssh: the scheduler here, workers on each listed host.
#
# usage: utils/smac-ssh-cluster.sh (-H "host1 host2 ..." | -F HOSTFILE) [-n WORKERS_PER_HOST]
#                                  [-f SCHEDULER_FILE] [-r RESOURCES] [-S SCHEDULER_HOST]
#                                  [-- OPTIMIZER COMMAND...]
#
#   -H HOSTS / -F FILE  worker hosts (a host listed twice gets two worker commands)
#   -n N                worker processes per host (default 1)
#   -f FILE             scheduler file, on a file system all hosts share (default
#                       ./smac-scheduler.json)
#   -r RESOURCES        resources of each worker process, e.g. GPU=1
#   -S HOST             address the scheduler listens on and writes to the file (default:
#                       all interfaces, named by this machine's host name)
#
# Needs password-less ssh (BatchMode) and the binaries at the same path on every host
# (SMAC_BIN_DIR, or PATH of a non-interactive remote shell). SMAC_SSH overrides the ssh
# command. Workers run in the current directory; stopping the scheduler ends them all.
set -u
. "${SMAC_UTILS:-$(dirname "$0")}/smac-cluster-common.sh"

hosts=""
per_host=1
file=$PWD/smac-scheduler.json
resources=""
sched_host=""
while getopts "H:F:n:f:r:S:h" opt; do
  case $opt in
    H) hosts="$hosts $OPTARG" ;;
    F) hosts="$hosts $(grep -v '^#' "$OPTARG")" ;;
    n) per_host=$OPTARG ;;
    f) file=$OPTARG ;;
    r) resources=$OPTARG ;;
    S) sched_host=$OPTARG ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ -z "${hosts// /}" ]; then
  smac_log "no hosts given (-H or -F)"
  exit 2
fi
case $file in /*) ;; *) file=$PWD/$file ;; esac

trap smac_stop EXIT
trap 'smac_stop; exit 0' INT TERM HUP
if [ -n "$sched_host" ]; then
  smac_start_scheduler "$file" --host "$sched_host" || exit 1
else
  smac_start_scheduler "$file" --host 0.0.0.0 || exit 1
fi
smac_worker_cmd "$file" "$per_host" "$resources"
remote="cd $(printf '%q' "$PWD") && exec $(printf '%q ' "${SMAC_WORKER_CMD[@]}")"
for h in $hosts; do
  # shellcheck disable=SC2086
  ${SMAC_SSH:-ssh -o BatchMode=yes} "$h" "$remote" </dev/null &
  SMAC_PIDS+=($!)
done
export SMAC_SCHEDULER_FILE=$file
smac_run_or_wait "$@"
