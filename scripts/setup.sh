#!/usr/bin/env bash
# Installs everything Sluice needs into this checkout: a Python venv (.venv) with Sluice and its
# dev tools, and the buf CLI (node_modules). Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the server uses (nftables for sandbox users' network policy), when root.
scripts/system_packages.sh

# Debian's interpreter when there is one: sandboxes' Ray processes run as other OS users, who
# must be able to execute the venv's interpreter (pyenv's, under /root, they cannot).
if [ -x /usr/bin/python3.11 ]; then
  PYTHON=${PYTHON:-/usr/bin/python3.11}
else
  PYTHON=${PYTHON:-python3}
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.sluice-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[server,dev]"
  touch "$stamp"
fi
if [ ! -x node_modules/.bin/buf ] || [ ! -f node_modules/codemirror/package.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# Sandboxes run Ray as other OS users: they must reach this checkout's venv and code.
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
  if ! runuser -u nobody -- .venv/bin/python -c "import ray, sluice.agents" >/dev/null 2>&1; then
    echo "setup: warning: other OS users cannot run .venv/bin/python with this checkout's code" \
      "(a parent directory is private?); sandboxes' Ray processes will fail to start" >&2
  fi
fi
