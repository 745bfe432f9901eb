#!/usr/bin/env bash
# Sets up the course on this machine: a local .venv with mlcourse (editable) and its tools, and the
# Fashion-MNIST files. Idempotent and offline where the packages are on disk; every make target calls it.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.mlcourse-ready
LOG=$PWD/.setup.log
want=$(cat settings.ini setup.py tools/setup.sh | sha256sum | cut -c1-16)
t0=$(date +%s)

fail() { # a failed first install leaves no half-built venv behind
  echo "setup failed: $1" >&2
  [ -f "$LOG" ] && { echo "--- last lines of $LOG ---" >&2; grep -v '^WARNING: Location' "$LOG" | tail -20 >&2; }
  [ -f "$STAMP" ] || rm -rf "$VENV"
  exit 1
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c 'import torch, nbdev, mlcourse' 2>/dev/null; then
  :
else
  if [ ! -f "$STAMP" ]; then   # never finished (or interrupted): start again from nothing
    rm -rf "$VENV"
    command -v "$PY" >/dev/null || fail "no $PY found: install Python 3.9+ (or run: make PYTHON=/path/to/python3 ...)"
    echo "setup: creating $VENV with $("$PY" --version 2>&1) ..."
    "$PY" -m venv "$VENV" > "$LOG" 2>&1 || fail "could not create a virtual environment (Debian/Ubuntu: apt-get install python3-venv)"
  else
    echo "setup: settings changed, updating $VENV ..."
    rm -f "$STAMP.tmp"
  fi
  echo "setup: installing mlcourse and its requirements (PyTorch from the local wheel files when present) ..."
  "$VENV/bin/python" -m pip install -e ".[dev]" >> "$LOG" 2>&1 \
    || fail "pip could not install the requirements (offline? the PyTorch and nbdev wheels must be on this disk or reachable on PyPI)"
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name python3 >> "$LOG" 2>&1 || true
  "$VENV/bin/python" -c 'import torch, torchvision, nbdev, mlcourse' >> "$LOG" 2>&1 || fail "the installed packages do not import"
  echo "$want" > "$STAMP"
  echo "setup: $VENV ready in $(( $(date +%s) - t0 )) s ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
fi

# The data: Fashion-MNIST is read from $MLCOURSE_DATA/fashion-mnist, then the Debian package's folder.
FM=/usr/share/datasets/fashion-mnist
have_fm() { [ -f "$1/train-images-idx3-ubyte.gz" ] && [ -f "$1/t10k-labels-idx1-ubyte.gz" ]; }
if ! have_fm "${MLCOURSE_DATA:-/nonexistent}/fashion-mnist" && ! have_fm "$FM"; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
    echo "setup: installing the Debian package dataset-fashion-mnist (Fashion-MNIST files into $FM) ..."
    { $SUDO apt-get install -y -q dataset-fashion-mnist || { $SUDO apt-get update -q && $SUDO apt-get install -y -q dataset-fashion-mnist; }; } >> "$LOG" 2>&1
  fi
  if ! have_fm "$FM"; then
    echo "setup: Fashion-MNIST files not found (looked in \$MLCOURSE_DATA/fashion-mnist and $FM)." >&2
    echo "       mlcourse.datasets.fashion_mnist() will try to download them with torchvision (needs internet)." >&2
    echo "       Offline, copy train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and" >&2
    echo "       t10k-labels-idx1-ubyte.gz into \$MLCOURSE_DATA/fashion-mnist, or on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist" >&2
  fi
fi

# The Debian package shellcheck: tests/test_slurm.py checks the batch scripts in slurm/ with it.
if ! command -v shellcheck >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
    echo "setup: installing the Debian package shellcheck ..."
    { $SUDO apt-get install -y -q shellcheck || { $SUDO apt-get update -q && $SUDO apt-get install -y -q shellcheck; }; } >> "$LOG" 2>&1
  fi
  command -v shellcheck >/dev/null || echo "setup: shellcheck not found; tests/test_slurm.py needs it (Debian/Ubuntu: sudo apt-get install shellcheck)" >&2
fi
exit 0
