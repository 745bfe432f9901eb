#!/usr/bin/env bash
# `make test`: notebooks clean, library in sync with notebooks, every notebook runs (quick mode), pytest passes.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export MLCOURSE_QUICK=1 PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg
# Idle OpenMP threads sleep instead of spinning: with more busy threads than cores, spinning made small
# training steps 10-20x slower here. nbdev_test runs NB_WORKERS notebooks at once, so each gets cores/NB_WORKERS threads.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
NB_WORKERS=${NB_WORKERS:-2}
NB_THREADS=$(( $(nproc) / NB_WORKERS )); [ "$NB_THREADS" -ge 1 ] || NB_THREADS=1
status=0
stage() { # stage NAME COMMAND...: run, time, report
  local name=$1; shift; local t0=$(date +%s)
  echo "== $name"
  if "$@"; then echo "== $name: ok ($(( $(date +%s) - t0 )) s)"
  else echo "== $name: FAILED ($(( $(date +%s) - t0 )) s)"; status=1; fi
}
snapshot() { rm -rf "$1"; mkdir -p "$1"; cp -r nbs mlcourse "$1"/; }
unchanged() { # unchanged WHAT SNAPSHOT: nothing in nbs/ or mlcourse/ changed since SNAPSHOT
  if diff -r -q -x __pycache__ "$2/nbs" nbs && diff -r -q -x __pycache__ "$2/mlcourse" mlcourse; then return 0; fi
  echo "$1 changed the files above: run 'make nbs' (nbdev_clean + nbdev_export) and commit the result."
  return 1
}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
clean_check()  { snapshot "$TMP/a"; $BIN/nbdev_clean >/dev/null && unchanged nbdev_clean "$TMP/a"; }
export_check() { snapshot "$TMP/b"; $BIN/nbdev_export && unchanged nbdev_export "$TMP/b"; }
stage "nbdev_clean leaves no diff" clean_check
stage "nbdev_export leaves no diff" export_check
stage "nbdev_test (quick mode, every notebook, $NB_WORKERS at a time)" env OMP_NUM_THREADS=$NB_THREADS $BIN/nbdev_test --n_workers "$NB_WORKERS" --timing
stage "pytest tests/" $BIN/python -m pytest -q tests/
[ $status = 0 ] && echo "make test: all stages passed" || echo "make test: FAILED"
exit $status
