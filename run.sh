#!/usr/bin/env bash
# The two commands of the project (see README.md):
#   bash run.sh demo   install, generate synthetic data, run the pipeline, start both UIs
#   bash run.sh test   install (with Chromium and axe-core for browser tests, nginx for the TLS proxy test, PostgreSQL for the lake test) and run the whole test suite
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

install_nginx() {
  # tests/test_tls_proxy.py runs the production proxy configuration (deploy/nginx/) in Debian's nginx, as the current
  # user on free ports. Debian starts its own nginx service on port 80 after installing it; the tests do not use that one.
  if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then return; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx-light >/dev/null
}

install_postgresql() {
  # tests/test_lake.py runs the shared DuckLake on a PostgreSQL catalog: Debian's server binaries, a throw-away cluster on
  # a free port (tests/postgres_support.py). Debian also sets up its own cluster on port 5432; the tests do not use it.
  if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then return; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
}

install_axe() {
  # The browser tests check every page with axe-core (package.json pins it; node_modules/ is git-ignored).
  if ! command -v npm >/dev/null 2>&1; then
    echo "run.sh: npm is not installed. The browser tests check accessibility (WCAG 2.1 AA) with axe-core," >&2
    echo "        which npm installs: install Node.js 20 or newer with npm (Debian: apt-get install nodejs npm) and run this again." >&2
    exit 1
  fi
  local locked installed
  locked=$(node -p "require('./package-lock.json').packages['node_modules/axe-core'].version")
  installed=$(node -p "require('./node_modules/axe-core/package.json').version" 2>/dev/null || true)
  # Already the locked version: nothing to fetch (works offline). Otherwise npm ci installs exactly the lock file.
  if [ "$locked" != "$installed" ]; then
    npm ci --no-audit --no-fund --loglevel=error --prefer-offline >/dev/null
  fi
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
    install_nginx
    install_postgresql
    install_axe
    # Two workers (pytest-xdist), one per core; each test file runs whole on one of them, and each worker builds the
    # session's pipeline fixture itself. MKB_TEST_WORKERS=0 runs everything in this process.
    exec .venv/bin/python -m pytest -n "${MKB_TEST_WORKERS:-2}" --dist loadfile "$@"
    ;;
  *)
    echo "usage: bash run.sh demo | bash run.sh test [pytest options]" >&2
    exit 2
    ;;
esac
