# Throwaway PostgreSQL 15 clusters for tests and benchmarks (sourced, not run).
#
#   pg_cluster_start DIR   -> starts a cluster in DIR on a free loopback port and
#                             exports DOCVAULT_TEST_DATABASE_URL
#   pg_cluster_stop DIR    -> stops it (fast shutdown) and removes DIR
#
# initdb refuses to run as root, so the cluster belongs to the `postgres`
# system user that Debian's package creates.

PG_BIN=/usr/lib/postgresql/15/bin
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_cluster_start() {
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  as_postgres "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    return 1
  }
  as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB" \
    start >/dev/null || {
    cat "$dir/server.log" >&2
    return 1
  }
  export DOCVAULT_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  echo "postgres: test cluster on 127.0.0.1:$port ($dir)" >&2
}

pg_cluster_stop() {
  local dir=$1
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
