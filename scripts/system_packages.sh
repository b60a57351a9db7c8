#!/usr/bin/env bash
# Debian packages the Sluice server needs beyond Python: installed when missing and we are root
# on a Debian-like system; otherwise nothing is changed (the server then reports what it cannot
# enforce). Safe to run again: `apt-get update` runs only when something is missing.
#   nftables: the kernel network policy of sandbox users (agents/netpolicy.py).
#   chromium, chromium-driver: the console's browser tests (headless, driven by Playwright).
#   libpostgresql-jdbc-java: PostgreSQL's JDBC driver (/usr/share/java/postgresql.jar), which
#     run environments put on Spark's classpath for Glue scripts' JDBC sources and sinks.
set -euo pipefail
PACKAGES=(nftables chromium chromium-driver libpostgresql-jdbc-java)

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "system_packages: not a Debian-like system, skipped (needs: ${PACKAGES[*]})" >&2
  exit 0
fi
missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system_packages: not root, not installing: ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system_packages: installed ${missing[*]}"
