#!/usr/bin/env bash
# What `make browser-test` needs besides the venv: a Chromium at /usr/bin/chromium (the Debian package `chromium`,
# installed here when missing and apt is available) and Playwright in .venv (pip, the dev requirements). Idempotent.
# Playwright's own browser download (`playwright install`) is never used: the tests drive the system Chromium.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
CHROMIUM=${MLCOURSE_CHROMIUM:-/usr/bin/chromium}
LOG=$(mktemp); trap 'rm -f "$LOG"' EXIT
if [ ! -x "$CHROMIUM" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
    echo "browser-setup: installing the Debian package chromium ..."
    { $SUDO apt-get install -y -q chromium || { $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium; }; } \
      > "$LOG" 2>&1 || tail -20 "$LOG" >&2
  fi
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "browser-setup: no Chromium at $CHROMIUM. Debian/Ubuntu: sudo apt-get install chromium; elsewhere install" >&2
  echo "               Chromium and run: make browser-test MLCOURSE_CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
if ! .venv/bin/python -c 'import playwright.sync_api' 2>/dev/null; then
  echo "browser-setup: Playwright is missing from .venv: run make setup (it comes with the dev requirements)" >&2
  exit 1
fi
pw=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("playwright"))')
echo "browser-setup: $("$CHROMIUM" --version 2>/dev/null | head -1), playwright $pw"
