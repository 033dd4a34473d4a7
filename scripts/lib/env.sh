# Shared by scripts/run and scripts/test: installs what is missing, starts project-local
# PostgreSQL 15 and Redis 7, and exports DATABASE_URL / REDIS_URL for them.
# Everything is configurable through the environment; the defaults avoid the standard ports.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA_DIR="${JIRA_DATA_DIR:-$ROOT/.data}"
# PostgreSQL runs as `postgres` when we are root: it must be able to reach the data directory.
# A checkout under a private directory (mode 0700 somewhere above it) cannot be reached, so the
# data then lives in a directory of this checkout's own under /var/tmp.
if [ -z "${JIRA_DATA_DIR:-}" ] && [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 \
    && ! runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
    DATA_DIR="/var/tmp/jira-integration-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
fi
PG_PORT="${JIRA_PG_PORT:-55432}"
PG_DB="${JIRA_PG_DB:-jira}"
REDIS_PORT="${JIRA_REDIS_PORT:-56379}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Debian packages the build, the services and the tests need.
# prometheus: promtool checks the metrics; yamllint and systemd-analyze check deploy/; python3-redis and
# python3-jsonschema run the producer interop tests.
APT_PACKAGES=(postgresql-15 libpq-dev libhiredis-dev redis-server redis-tools pkg-config ca-certificates
              prometheus yamllint python3 python3-redis python3-jsonschema systemd curl)

ensure_packages() {
    local missing=()
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing with apt: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    command -v swift >/dev/null || die "the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org"
}

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -Vr); do
        [ -x "$dir/initdb" ] && { echo "$dir"; return; }
    done
    die "PostgreSQL server binaries not found under /usr/lib/postgresql"
}

# PostgreSQL refuses to run as root: when we are root, run its tools as the `postgres` user.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
    local bin pgdata socket
    bin="$(pg_bin)"
    pgdata="$DATA_DIR/postgres"
    socket="$DATA_DIR/run"
    mkdir -p "$DATA_DIR" "$socket"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$socket"
        [ -d "$pgdata" ] || { mkdir -p "$pgdata"; chown postgres:postgres "$pgdata"; }
        as_pg test -x "$DATA_DIR" || die "the postgres user cannot reach $DATA_DIR; set JIRA_DATA_DIR to a directory it can traverse"
    fi
    if [ ! -f "$pgdata/PG_VERSION" ]; then
        log "initializing PostgreSQL in $pgdata"
        as_pg "$bin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    # Settings live in the data directory, so a plain `pg_ctl start` (tests restart the server) keeps them.
    grep -q "jira-local.conf" "$pgdata/postgresql.conf" || echo "include_if_exists = 'jira-local.conf'" | as_pg tee -a "$pgdata/postgresql.conf" >/dev/null
    as_pg tee "$pgdata/jira-local.conf" >/dev/null <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$socket'
max_connections = 200
fsync = on
CONF
    if as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1 && ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
        log "PostgreSQL runs with other settings; restarting it"
        as_pg "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
    fi
    if as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        log "PostgreSQL already running on port $PG_PORT"
    else
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        as_pg "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 start >/dev/null \
            || { tail -20 "$pgdata/server.log" >&2; die "PostgreSQL did not start"; }
    fi
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1 \
        || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE \"$PG_DB\""
    export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DB}"
}

stop_postgres() {
    local bin
    bin="$(pg_bin)"
    [ -f "$DATA_DIR/postgres/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$DATA_DIR/postgres" -m fast -w stop >/dev/null 2>&1 || true
}

start_redis() {
    mkdir -p "$DATA_DIR/redis" "$DATA_DIR/run"
    # The queue needs durability and no eviction: AOF on, maxmemory-policy noeviction.
    cat > "$DATA_DIR/redis.conf" <<CONF
port $REDIS_PORT
bind 127.0.0.1
dir $DATA_DIR/redis
appendonly yes
appendfsync everysec
maxmemory-policy noeviction
unixsocket $DATA_DIR/run/redis.sock
unixsocketperm 700
daemonize yes
pidfile $DATA_DIR/redis/redis.pid
logfile $DATA_DIR/redis.log
save ""
CONF
    if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
        log "Redis already running on port $REDIS_PORT"
    else
        log "starting Redis on 127.0.0.1:$REDIS_PORT (AOF on, noeviction)"
        redis-server "$DATA_DIR/redis.conf"
    fi
    # Ready means PONG: while it loads its append-only file, Redis answers -LOADING (and
    # redis-cli still exits 0).
    for _ in $(seq 1 600); do [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] && break; sleep 0.1; done
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ] || die "Redis did not become ready; see $DATA_DIR/redis.log"
    export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
}

stop_redis() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
