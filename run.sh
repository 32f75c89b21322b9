#!/usr/bin/env bash
# The two commands of the project (see README.md):
#   bash run.sh demo   install, generate synthetic data, run the pipeline, start both UIs
#   bash run.sh test   install (with Chromium for browser tests) and run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
  # Exact versions from the lock file, then the project itself (editable).
  .venv/bin/uv pip sync --quiet --python .venv/bin/python requirements.lock
  .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
}

install_chromium() {
  # Browser tests drive Debian's Chromium (Playwright's own download cannot work offline).
  if command -v chromium >/dev/null 2>&1; then return; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

case "${1:-}" in
  demo)
    shift
    setup
    exec .venv/bin/mkbvm demo "$@"
    ;;
  test)
    shift
    setup
    install_chromium
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: bash run.sh demo | bash run.sh test [pytest options]" >&2
    exit 2
    ;;
esac
