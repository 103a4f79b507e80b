#!/usr/bin/env bash
# One entry point for a fresh machine: makes .venv, installs cairn and what its tests need,
# then runs what you ask.   ./dev.sh demo   |   ./dev.sh test [pytest args]
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

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
    .venv/bin/cairn demo "$@"
    ;;
  test)
    setup_venv
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
