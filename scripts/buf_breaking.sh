#!/usr/bin/env bash
# buf breaking (FILE rules) against the last release: the newest v* tag (semantic version order)
# when there is one. Before any release, against the previous main: origin/main when this
# checkout has one that differs from HEAD, else the parent commit. Skipped only while no such
# commit has protos.
set -euo pipefail
cd "$(dirname "$0")/.."
against=""
what=""
release=$(git tag --list 'v*' --sort=-v:refname | head -n 1)
if [ -n "$release" ]; then
  against=$(git rev-parse "$release^{commit}")
  what="release $release"
elif git rev-parse -q --verify origin/main >/dev/null && [ "$(git rev-parse origin/main)" != "$(git rev-parse HEAD)" ]; then
  against=$(git rev-parse origin/main)
  what="origin/main"
elif git rev-parse -q --verify HEAD~1 >/dev/null; then
  against=$(git rev-parse HEAD~1)
  what="the parent commit"
fi
if [ -z "$against" ] || [ -z "$(git ls-tree -r --name-only "$against" -- proto | head -n 1)" ]; then
  echo "== buf breaking: no earlier release or main with protos; skipped"
  exit 0
fi
echo "== buf breaking against $what ($against)"
node_modules/.bin/buf breaking --against ".git#ref=$against"
