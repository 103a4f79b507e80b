#!/usr/bin/env bash
# One entry point for a fresh machine: makes .venv, installs cairn with what the command
# needs, then runs it.
#   ./dev.sh demo [--port N]   the server with the web UI on http://127.0.0.1:8080 and a demo project
#                              (installs cairn-artifacts[server] only)
#   ./dev.sh test [pytest args]   `ruff check`, `ruff format --check`, `mypy` and `lint-imports`, then the
#                              whole test suite (installs the [test] extra and Debian's chromium for the UI tests)
#   ./dev.sh fast [pytest args]   the same checks, then the fast lane: the tests that start no service,
#                              browser or many processes, on every core (pytest-xdist); under a minute
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

setup_venv() {  # setup_venv EXTRA: cairn (editable) with that extra, once per pyproject.toml
  local extra=$1
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  local stamp=.venv/.cairn-installed-$extra want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[$extra]"
    echo "$want" > "$stamp"
  fi
}

static_checks() {
  .venv/bin/python -m ruff check src tests bench
  .venv/bin/python -m ruff format --check src tests bench
  .venv/bin/python -m mypy  # the types of src/cairn ([tool.mypy])
  .venv/bin/lint-imports --no-cache  # the layers and no import circles ([tool.importlinter])
}

cmd=${1:-help}
shift || true
case "$cmd" in
  demo)
    setup_venv server
    export CAIRN_DIR=${CAIRN_DIR:-$PWD/.cairn-demo}
    exec .venv/bin/cairn server --demo "$@"
    ;;
  test)
    setup_venv test
    setup_browser
    static_checks
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  fast)
    # Each test file runs whole on one worker (--dist loadfile): its module-scoped fixtures are
    # made once. The services, browser and slow tests are left out: ./dev.sh test runs them.
    setup_venv test
    static_checks
    # Compiled modules, and pytest's assert-rewritten test modules, are kept under .venv/pycache
    # (outside the tree) even where PYTHONDONTWRITEBYTECODE is set: without them every worker
    # compiles cairn and every test module again (~6 s of CPU each), and so does each Python
    # process a test starts.
    export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-$PWD/.venv/pycache}
    unset PYTHONDONTWRITEBYTECODE
    exec .venv/bin/python -m pytest -q -n auto --dist loadfile -m "not services and not browser and not slow" "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo [server options] | ./dev.sh test [pytest args] | ./dev.sh fast [pytest args]" >&2
    exit 2
    ;;
esac
