# shellcheck shell=bash
# Shared by the smac-rs cluster scripts in this directory: finding the binaries, waiting for
# the scheduler file, building worker commands, stopping everything. Source it; do not run it.
#
# Environment:
#   SMAC_BIN_DIR         directory holding smac-scheduler and smac-worker (default: from PATH)
#   SMAC_WORKER_PROGRAM  your own binary (calling serve_if_worker) to use instead of smac-worker
#   SMAC_WAIT            seconds to wait for the scheduler file (default 60)

smac_bin() { # NAME -> path of the binary
  if [ -n "${SMAC_BIN_DIR:-}" ]; then printf '%s/%s\n' "$SMAC_BIN_DIR" "$1"; else printf '%s\n' "$1"; fi
}

smac_log() { printf 'smac-cluster: %s\n' "$*" >&2; }

smac_wait_for_file() { # FILE [PID]: waits until FILE exists (and PID, if given, still runs)
  local file=$1 pid=${2:-} tenths=0 limit=$((${SMAC_WAIT:-60} * 10))
  until [ -s "$file" ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      smac_log "the scheduler exited before writing $file"
      return 1
    fi
    if [ "$tenths" -ge "$limit" ]; then
      smac_log "no scheduler file $file after ${SMAC_WAIT:-60} s"
      return 1
    fi
    sleep 0.1
    tenths=$((tenths + 1))
  done
}

# smac_worker_cmd FILE NWORKERS RESOURCES: sets the array SMAC_WORKER_CMD to the command that
# starts NWORKERS worker processes joining the scheduler of FILE.
smac_worker_cmd() {
  local file=$1 n=${2:-1} res=${3:-}
  if [ -n "${SMAC_WORKER_PROGRAM:-}" ]; then
    SMAC_WORKER_CMD=(env "SMAC_WORKER_SCHEDULER_FILE=$file" "SMAC_WORKER_NWORKERS=$n")
    if [ -n "$res" ]; then SMAC_WORKER_CMD+=("SMAC_WORKER_RESOURCES=$res"); fi
    SMAC_WORKER_CMD+=("$SMAC_WORKER_PROGRAM")
  else
    SMAC_WORKER_CMD=("$(smac_bin smac-worker)" --scheduler-file "$file" --nworkers "$n")
    if [ -n "$res" ]; then SMAC_WORKER_CMD+=(--resources "$res"); fi
  fi
}

# smac_start_scheduler FILE [smac-scheduler options...]: starts the scheduler in the
# background (SMAC_SCHEDULER_PID) after removing a stale FILE, and waits for the new file.
smac_start_scheduler() {
  local file=$1
  shift
  rm -f "$file"
  "$(smac_bin smac-scheduler)" --scheduler-file "$file" "$@" &
  SMAC_SCHEDULER_PID=$!
  smac_wait_for_file "$file" "$SMAC_SCHEDULER_PID"
}

SMAC_PIDS=()

# smac_stop: stops the scheduler (its workers exit when it shuts down), then whatever else
# this script started (SMAC_PIDS), and waits for all of it.
smac_stop() {
  trap - EXIT INT TERM HUP
  if [ -n "${SMAC_SCHEDULER_PID:-}" ]; then kill -TERM "$SMAC_SCHEDULER_PID" 2>/dev/null; fi
  local tenths=0
  # (${a[@]+"${a[@]}"}: empty arrays are "unbound" for `set -u` in bash < 4.4)
  while [ "$tenths" -lt 50 ] && kill -0 ${SMAC_SCHEDULER_PID:-} ${SMAC_PIDS[@]+"${SMAC_PIDS[@]}"} 2>/dev/null; do
    sleep 0.1
    tenths=$((tenths + 1))
  done
  if [ "${#SMAC_PIDS[@]}" -gt 0 ]; then kill -TERM ${SMAC_PIDS[@]+"${SMAC_PIDS[@]}"} 2>/dev/null; fi
  wait 2>/dev/null
}

# smac_run_or_wait [COMMAND...]: runs the optimizer COMMAND (with SMAC_SCHEDULER_FILE
# exported) and returns its exit code, or, without a command, waits until interrupted.
smac_run_or_wait() {
  if [ "$#" -gt 0 ]; then
    "$@"
    return $?
  fi
  smac_log "cluster running; stop it with Ctrl-C or SIGTERM (pid $$)"
  wait "$SMAC_SCHEDULER_PID" 2>/dev/null
  return 0
}
