#!/usr/bin/env bash
# Sets up a fresh checkout and runs the main job on embedded defaults (see scripts/demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/demo.py
