#!/usr/bin/env bash
# Sets up everything the tests need and runs them: on SQLite, then on a throwaway
# PostgreSQL server on loopback (installed with apt-get when missing and run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

# The virtualenv gets the pip bundled with the interpreter, never upgraded: the install must
# work with it, as the README's quick start (tests/test_install.py runs that too, on a copy).
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"

find_pg_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

pg_bin=$(find_pg_bin || true)
if [ -z "$pg_bin" ] && [ "$(id -u)" = 0 ]; then
  echo "== installing PostgreSQL"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(find_pg_bin || true)
fi

pg_dir=""
stop_pg() {
  if [ -n "$pg_dir" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
trap stop_pg EXIT

pg_url=""
if [ -n "$pg_bin" ]; then
  pg_dir=$(mktemp -d /tmp/summit-watch-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
  pg_port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off -c max_connections=200" start >/dev/null
  pg_url="postgresql+psycopg://postgres@127.0.0.1:$pg_port/postgres"
fi

status=0
echo "== tests on SQLite"
.venv/bin/python -m pytest -q "$@" || status=$?
if [ -n "$pg_url" ]; then
  echo "== database tests on PostgreSQL"
  TEST_DATABASE_URL="$pg_url" PG_BIN="$pg_bin" PG_DATA="$pg_dir/data" .venv/bin/python -m pytest -q -m db "$@" || status=$?
else
  echo "== PostgreSQL is not available here: database tests ran on SQLite only"
fi
exit $status
