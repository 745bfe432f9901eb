# shellcheck shell=bash
# Sourced by the training batch scripts. `run_requeueable [--workers] CMD...` runs CMD in the background, passes
# Slurm's warning signal on to the training, and requeues the job when the training checkpointed and stopped:
#   1. `#SBATCH --signal=B:USR1@<s>`: <s> seconds before the time limit Slurm sends SIGUSR1 to this batch shell.
#   2. The trap below sends it on: to CMD itself, or with --workers to CMD's child processes (torchrun's workers:
#      torchrun handles SIGTERM, SIGINT, SIGHUP and SIGQUIT, but SIGUSR1 would just kill it and orphan them).
#   3. mlcourse's fit finishes the current batch, writes last.pt atomically and exits with status 124.
#   4. Status 124 (or any failure after the signal, as torchrun reports 1 when its workers exit 124): the shell runs
#      `scontrol requeue $SLURM_JOB_ID`; the job keeps its id, so fit(..., resume=True) finds the same last.pt.
# SIGTERM (scancel, or the limit without the warning) is passed on the same way.

MLCOURSE_REQUEUE_STATUS=124                 # mlcourse.train.REQUEUE_STATUS
MAX_RESTARTS=${MAX_RESTARTS:-10}            # requeue at most this many times

_mlc_pid="" _mlc_to=self _mlc_asked=""      # the training process, whom to signal, whether a signal came
_mlc_marker=${TMPDIR:-/tmp}/mlcourse-signal-${SLURM_JOB_ID:-0}-$$   # touched when it came

_mlc_forward() { # SIGNAL: pass it on to the training
  [ -n "$_mlc_asked" ] || touch "$_mlc_marker"
  _mlc_asked=1
  echo "== $(date +%T) SIG$1 received: asking the training to checkpoint at the next batch and stop"
  [ -n "$_mlc_pid" ] || return 0
  if [ "$_mlc_to" = workers ]; then
    pkill "-$1" -P "$_mlc_pid" || echo "== no worker processes under $_mlc_pid to signal yet"
  else
    kill "-$1" "$_mlc_pid" 2>/dev/null || true
  fi
}

_mlc_check_checkpoint() { # after a signal: say whether last.pt was written after it
  local dir=${MLCOURSE_CHECKPOINT_DIR:-}
  [ -n "$dir" ] || return 0
  if compgen -G "$dir/.last.pt.*.tmp" >/dev/null; then
    echo "== warning: a write of $dir/last.pt was cut off (its .tmp file is left), so last.pt is an older checkpoint"
  elif [ ! -f "$dir/last.pt" ]; then
    echo "== warning: no $dir/last.pt: the requeued job will start afresh"
  elif [ -n "$(find "$_mlc_marker" -newer "$dir/last.pt")" ]; then
    echo "== warning: $dir/last.pt is older than the signal: the requeued job repeats the work done since it was written"
  else
    echo "== checkpoint $dir/last.pt written after the signal"
  fi
}

run_requeueable() { # [--workers] CMD...: run CMD, pass signals on, requeue on a checkpointed stop; returns a status
  _mlc_to=self
  if [ "${1:-}" = --workers ]; then _mlc_to=workers; shift; fi
  trap '_mlc_forward USR1' USR1
  trap '_mlc_forward TERM' TERM
  "$@" &
  _mlc_pid=$!
  wait "$_mlc_pid"                                                  # returns early whenever a trap runs:
  while kill -0 "$_mlc_pid" 2>/dev/null; do wait "$_mlc_pid"; done  # wait until the process has really ended,
  wait "$_mlc_pid"; local rc=$?                                     # then read its exit status
  trap - USR1 TERM
  if [ "$rc" -eq 0 ]; then echo "== $(date +%T) training finished"; return 0; fi
  if [ "$rc" -ne "$MLCOURSE_REQUEUE_STATUS" ] && [ -z "$_mlc_asked" ]; then
    echo "== $(date +%T) training failed with status $rc (not requeued)"; return "$rc"
  fi
  if [ -n "$_mlc_asked" ]; then _mlc_check_checkpoint; rm -f "$_mlc_marker"; fi
  local n=${SLURM_RESTART_COUNT:-0}
  if [ "$n" -ge "$MAX_RESTARTS" ]; then
    echo "== stopped with status $rc; not requeued: $n restarts already (MAX_RESTARTS=$MAX_RESTARTS)"; return "$rc"
  fi
  echo "== $(date +%T) stopped with status $rc after checkpointing; requeueing job $SLURM_JOB_ID (restart $((n + 1)))"
  scontrol requeue "$SLURM_JOB_ID" || { echo "== error: scontrol requeue $SLURM_JOB_ID failed" >&2; return 1; }
  return 0
}
