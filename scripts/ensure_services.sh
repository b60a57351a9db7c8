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

# Job scripts run as unprivileged sandbox users. The machine's PostgreSQL trusts every local
# connection, and its socket directory is open to all users: that would hand any script the
# database (TCP to 127.0.0.1:5432 is refused to sandbox users by their network policy, a unix
# socket is not). Close the directory to other users; root and postgres keep their access.
# A real deployment uses password or certificate authentication instead of trust.
if [ "$(id -u)" = 0 ]; then
  for dir in /var/run/postgresql /run/postgresql; do
    [ -d "$dir" ] && chmod o-rwx "$dir"
  done
fi
exit 0
