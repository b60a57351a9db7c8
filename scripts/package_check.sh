#!/usr/bin/env bash
# The published package, as a user gets it (CI runs this from scripts/test.sh):
#  1. builds the sdist and the wheel from it (python -m build), and a wheel straight from the tree;
#  2. the wheel installs nothing outside `sluice/` (and its dist-info), and the sdist builds the
#     same wheel as the tree;
#  3. installs the wheel WITHOUT extras (the slim client) into a fresh venv: none of the server's
#     libraries come with it, `sluice --version` works, `sluice server` says to install the extra;
#  4. starts `sluice server` from the full install (.venv) on a free loopback port with a temp data
#     dir, and from the client venv makes SDK calls (create and get a database) and a CLI call.
# Everything happens in a temp dir (removed at the end), on a copy of the files git does not ignore.
# Needs the dev extra (build) in .venv; pip may fetch the client's dependencies from its cache/PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PY=$repo/.venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-package-check.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "package check: $*" >&2
  exit 1
}
step() { echo "-- $*"; }

# The working tree's files that git tracks or would (not ignored: no venv, caches, build leftovers).
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$work/src"

step "build: sdist, the wheel from the sdist, a wheel from the tree"
# --no-isolation: with .venv's setuptools (build checks it meets [build-system]), not a fresh
# download per build (three builds took 50 s on a busy 2-core machine, 17 s this way).
"$PY" -m build --no-isolation --outdir "$work/dist" "$work/src" >"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; fail "python -m build failed"; }
"$PY" -m build --no-isolation --wheel --outdir "$work/tree" "$work/src" >>"$work/build.log" 2>&1 ||
  { tail -n 30 "$work/build.log" >&2; fail "python -m build --wheel failed"; }
wheels=("$work"/dist/*.whl)
[ ${#wheels[@]} = 1 ] && [ -f "${wheels[0]}" ] || fail "expected one wheel in dist/"
wheel=${wheels[0]}

step "wheel contents"
"$PY" - "$wheel" "$work"/tree/*.whl <<'EOF'
import hashlib
import re
import sys
import zipfile

def contents(path: str) -> dict[str, str]:
    with zipfile.ZipFile(path) as wheel:
        return {n: hashlib.sha256(wheel.read(n)).hexdigest() for n in wheel.namelist()}

from_sdist, from_tree = contents(sys.argv[1]), contents(sys.argv[2])
outside = sorted(n for n in from_sdist if not re.match(r"sluice/|sluice-[^/]+\.dist-info/", n))
if outside:
    sys.exit(f"package check: the wheel installs files outside sluice/: {outside[:10]}")
if from_sdist != from_tree:
    differ = sorted(n for n in from_sdist.keys() | from_tree.keys()
                    if from_sdist.get(n) != from_tree.get(n))
    sys.exit(f"package check: the sdist builds another wheel than the tree: {differ[:10]}")
print(f"{len(from_sdist)} files, all under sluice/; the sdist builds the same wheel")
EOF

step "client-only install into a fresh venv"
"$PY" -m venv --without-pip "$work/client"
client=$work/client/bin
"$PY" -m pip --python "$client/python" install --quiet "$wheel" >"$work/pip.log" 2>&1 ||
  { cat "$work/pip.log" >&2; fail "pip install of the client-only wheel failed"; }
# Client commands run from the temp dir (not the checkout, whose sluice/ would shadow the install)
# with their own HOME and no config file.
cd "$work"
export HOME=$work/home SLUICE_CONFIG=$work/home/no-config.yaml
unset SLUICE_TOKEN SLUICE_ADDRESS SLUICE_CATALOG_ID
mkdir -p "$HOME"
"$client/python" - <<'EOF'
import importlib.util
import sys

server_only = ["ray", "raydp", "pyspark", "sqlalchemy", "sqlmodel", "alembic", "psycopg",
               "cryptography", "opentelemetry", "pydantic", "psutil", "re2"]
present = [m for m in server_only if importlib.util.find_spec(m) is not None]
if present:
    sys.exit(f"package check: the client-only install brought server libraries: {present}")
EOF
version=$("$client/sluice" --version) || fail "sluice --version failed"
echo "$version"
[ "$version" = "sluice, version $("$PY" -c 'from importlib.metadata import version; print(version("sluice"))')" ] ||
  fail "unexpected version line: $version"
set +e
missing=$("$client/sluice" server 2>&1)
code=$?
set -e
[ "$code" = 2 ] && [ "$(printf '%s\n' "$missing" | wc -l)" = 1 ] &&
  [[ $missing == *"pip install 'sluice[server]'"* ]] ||
  fail "sluice server on the client-only install: exit $code, output: $missing"
echo "sluice server: $missing"

step "server from the full install, SDK and CLI from the client venv"
port=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$repo/.venv/bin/sluice" server --port "$port" --data-dir "$work/data" --pool-size 0 \
  --log-format text >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
  grep -q "server started" "$work/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; fail "the server exited"; }
  sleep 0.1
done
grep -q "server started" "$work/server.log" || { cat "$work/server.log" >&2; fail "no server"; }
SLUICE_TOKEN=$(cat "$work/data/admin-token")
export SLUICE_TOKEN SLUICE_ADDRESS=127.0.0.1:$port

"$client/python" - <<'EOF'
import sluice.sdk

with sluice.sdk.connect() as client:
    client.catalog.create_database({"name": "package_check", "description": "from the client"})
    database = client.catalog.get_database("package_check")
    assert database.description == "from the client", database
print(f"SDK: created and got database {database.name}")
EOF
listing=$("$client/sluice" -o json databases list) || fail "sluice databases list failed"
[[ $listing == *'"package_check"'* ]] || fail "the CLI does not list the database: $listing"
echo "CLI: sluice databases list shows package_check"

kill -TERM "$server_pid"
wait "$server_pid" || fail "the server exited $? on SIGTERM"
server_pid=""
echo "package check: ok"
