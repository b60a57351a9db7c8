#!/usr/bin/env bash
# The tests need PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`). Machines of this
# kind start it before a session; start it here if it is down, and fail clearly if it can't be.
set -euo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "error: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
