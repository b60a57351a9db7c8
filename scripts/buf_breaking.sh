#!/usr/bin/env bash
# buf breaking (FILE rules) against the previous main: origin/main when this checkout has one
# that differs from HEAD, else the parent commit. Skipped only while no earlier commit has protos.
set -euo pipefail
cd "$(dirname "$0")/.."
against=""
if git rev-parse -q --verify origin/main >/dev/null && [ "$(git rev-parse origin/main)" != "$(git rev-parse HEAD)" ]; then
  against=$(git rev-parse origin/main)
elif git rev-parse -q --verify HEAD~1 >/dev/null; then
  against=$(git rev-parse HEAD~1)
fi
if [ -z "$against" ] || [ -z "$(git ls-tree -r --name-only "$against" -- proto | head -n 1)" ]; then
  echo "== buf breaking: no earlier main with protos; skipped"
  exit 0
fi
echo "== buf breaking against $against"
node_modules/.bin/buf breaking --against ".git#ref=$against"
