#!/usr/bin/env bash
# Sets up a fresh checkout and runs every check CI runs: generated code up to date, buf lint and
# breaking-change check, ruff, the package (scripts/package_check.sh: wheel, sdist, client-only
# install), and the whole pytest suite (unit, contract on SQLite and PostgreSQL, integration
# against real servers). Extra arguments go to pytest,
# e.g. `scripts/test.sh -m "not slow"` for the fast suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/ensure_services.sh

echo "== generated code"
.venv/bin/python scripts/gen_protos.py --check
echo "== vendored console components (scripts/vendor_console.py)"
.venv/bin/python scripts/vendor_console.py --check
echo "== buf lint"
node_modules/.bin/buf lint
scripts/buf_breaking.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== package (wheel, sdist, the client-only install against a server)"
scripts/package_check.sh
echo "== pytest"
.venv/bin/python -m pytest "$@"
