#!/usr/bin/env bash
# One entry point for a fresh machine: makes .venv, installs cairn and what its tests need,
# then runs what you ask.
#   ./dev.sh demo [--port N]   the server with the web UI on http://127.0.0.1:8080 and a demo project
#   ./dev.sh test [pytest args]   the whole test suite (installs Debian's chromium for the UI tests)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

setup_browser() {
  # The UI tests drive Debian's Chromium through Playwright (never 'playwright install').
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "dev.sh: the UI tests need chromium: sudo apt-get install chromium" >&2
    fi
  fi
}

setup_venv() {
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  local stamp=.venv/.cairn-installed want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]"
    echo "$want" > "$stamp"
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  demo)
    setup_venv
    export CAIRN_DIR=${CAIRN_DIR:-$PWD/.cairn-demo}
    exec .venv/bin/cairn server --demo "$@"
    ;;
  test)
    setup_venv
    setup_browser
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo [server options] | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
