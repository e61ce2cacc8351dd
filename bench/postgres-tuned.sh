#!/usr/bin/env bash
# A PostgreSQL server of the benchmark's own, with the settings docs/deploy.md gives for a
# district's registry and its first district-wide load (issue #17: "server settings for such a
# load belong in docs/deploy.md and may be used by the benchmark if it says so"). It leaves the
# machine's shared server (port 5432, stock settings, used by the tests) alone.
#
#   bash bench/postgres-tuned.sh start     # initdb (first time) and start on port 5433
#   YIYANG_BENCH_PG_ADMIN=postgresql+psycopg://postgres@127.0.0.1:5433/postgres \
#       .venv/bin/python bench/registry_bench.py --elders 1000000 --xlsx-rows 200000 --import-only
#   bash bench/postgres-tuned.sh stop
set -euo pipefail
PORT=${YIYANG_TUNED_PG_PORT:-5433}
DATA=${YIYANG_TUNED_PG_DATA:-/tmp/yiyang-pg-tuned}
BIN=${YIYANG_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
as_postgres() {  # initdb and the server refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
  start)
    if [ ! -s "$DATA/PG_VERSION" ]; then
      mkdir -p "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres "$DATA"
      as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >/dev/null
      # docs/deploy.md: shared_buffers ≈ 25 % of RAM, max_wal_size ≥ 4 GB (8 GB for the first
      # load), checkpoint_timeout 30 min for that load, effective_cache_size 50–75 % of RAM,
      # maintenance_work_mem 1 GB when index builds follow. fsync, synchronous_commit and
      # full_page_writes stay on.
      ram_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
      cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
shared_buffers = $((ram_mb / 4))MB
effective_cache_size = $((ram_mb * 3 / 4))MB
max_wal_size = 8GB
checkpoint_timeout = 30min
maintenance_work_mem = 1GB
CONF
    fi
    as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start >/dev/null
    echo "tuned PostgreSQL on 127.0.0.1:$PORT ($DATA)"
    ;;
  stop)
    as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null && echo stopped
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
