#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the test suite.
#
#   scripts/pg-cluster.sh bindir        print the directory of initdb/pg_ctl/postgres
#   scripts/pg-cluster.sh version       print the server version, e.g. "15.18"
#   scripts/pg-cluster.sh start [DIR]   create and start a cluster in DIR (default:
#                                       a new temporary directory); prints shell
#                                       lines setting FAC_PG_DIR and DATABASE_URL
#   scripts/pg-cluster.sh stop DIR      stop the cluster and delete DIR
#
# The cluster listens on 127.0.0.1 only, on a free port, with its unix socket
# inside DIR, trust authentication and a database named "fac" owned by the
# superuser "postgres". PostgreSQL refuses to run as root: as root the server
# runs as the unprivileged system user $FAC_PG_USER (default "facpg", created
# when missing; falls back to "nobody" when no user can be created).
#
# Usage in a script:
#   eval "$(scripts/pg-cluster.sh start)"; trap 'scripts/pg-cluster.sh stop "$FAC_PG_DIR"' EXIT
#
# Environment: FAC_PG_BIN (server binaries directory), FAC_PG_USER, FAC_PG_BASE
# (parent of the temporary directory; default /tmp).
set -euo pipefail

say() { printf '[pg-cluster] %s\n' "$*" >&2; }
die() { printf '[pg-cluster] ERROR: %s\n' "$*" >&2; exit 1; }

bindir() {
    local d c
    if [ -n "${FAC_PG_BIN:-}" ]; then
        if ! { [ -x "$FAC_PG_BIN/initdb" ] && [ -x "$FAC_PG_BIN/pg_ctl" ] \
                && [ -x "$FAC_PG_BIN/postgres" ]; }; then
            die "FAC_PG_BIN=$FAC_PG_BIN lacks initdb, pg_ctl or postgres"
        fi
        echo "$FAC_PG_BIN"; return 0
    fi
    for c in pg_ctl initdb; do
        if c="$(command -v "$c" 2>/dev/null)"; then
            d="$(dirname "$(readlink -f "$c")")"
            if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
                echo "$d"; return 0
            fi
        fi
    done
    # Debian/Ubuntu keep the server binaries off PATH; take the newest.
    # shellcheck disable=SC2012  # plain version-numbered directory names
    for d in $(ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin 2>/dev/null | sort -rV); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d"; return 0
        fi
    done
    return 1
}

version() {
    local d
    d="$(bindir)" || return 1
    "$d/postgres" --version | sed -E 's/^[^0-9]*([0-9]+(\.[0-9]+)?).*/\1/'
}

# Run a command as the cluster's owner.
PG_USER=""
as_owner() {
    if [ -z "$PG_USER" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$PG_USER" -- "$@"
    elif command -v setpriv >/dev/null 2>&1; then
        local uid gid
        uid="$(id -u "$PG_USER")"; gid="$(id -g "$PG_USER")"
        setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
    else
        su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")"
    fi
}

pick_owner() {
    [ "$(id -u)" -eq 0 ] || return 0
    PG_USER="${FAC_PG_USER:-facpg}"
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
        if command -v useradd >/dev/null 2>&1 \
                && useradd --system --no-create-home --home-dir /nonexistent \
                           --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null; then
            say "created system user $PG_USER"
        elif command -v adduser >/dev/null 2>&1 \
                && adduser --system --no-create-home --disabled-login "$PG_USER" >/dev/null 2>&1; then
            say "created system user $PG_USER"
        else
            say "cannot create user $PG_USER: using nobody"
            PG_USER=nobody
        fi
    fi
}

free_port() {
    local py
    for py in python3 python; do
        if command -v "$py" >/dev/null 2>&1; then
            "$py" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
            return 0
        fi
    done
    # No python: a random high port (start() retries on a clash).
    echo $(( 20000 + RANDOM % 30000 ))
}

stop() {
    local dir="${1:-${FAC_PG_DIR:-}}" bin pid
    [ -n "$dir" ] || die "usage: $0 stop DIR"
    [ -d "$dir" ] || return 0
    [ -f "$dir/.fac-pg-cluster" ] || die "$dir is not a cluster made by this script: not deleting it"
    if [ -f "$dir/data/postmaster.pid" ]; then
        pick_owner
        bin="$(bindir || true)"
        if [ -n "$bin" ]; then
            as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
        fi
        if [ -f "$dir/data/postmaster.pid" ]; then
            pid="$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.5
            fi
        fi
    fi
    rm -rf -- "$dir"
    say "stopped and deleted $dir"
}

START_DIR=""
START_OK=0
start_cleanup() {
    if [ "$START_OK" != 1 ] && [ -n "$START_DIR" ]; then
        stop "$START_DIR" >/dev/null 2>&1 || true
    fi
}

start() {
    local dir="${1:-}" bin psql port tries=0
    bin="$(bindir)" || die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found"
    psql="$bin/psql"
    [ -x "$psql" ] || psql="$(command -v psql)" || die "psql not found"
    pick_owner
    if [ -z "$dir" ]; then
        dir="$(mktemp -d "${FAC_PG_BASE:-/tmp}/fac-pg.XXXXXX")"
    else
        mkdir -p "$dir"
    fi
    touch "$dir/.fac-pg-cluster"
    # From here on, any failure removes what was made.
    START_DIR="$dir"
    trap start_cleanup EXIT
    [ -n "$PG_USER" ] && chown "$PG_USER" "$dir"
    chmod 700 "$dir"
    as_owner mkdir -p "$dir/sock"

    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    cat >>"$dir/data/postgresql.conf" <<EOF

# throw-away test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
EOF

    while :; do
        tries=$((tries + 1))
        port="$(free_port)"
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
                -o "-p $port" start >/dev/null 2>&1; then
            break
        fi
        if [ "$tries" -ge 3 ]; then
            tail -20 "$dir/server.log" >&2 2>/dev/null || true
            die "server did not start"
        fi
        say "start on port $port failed, retrying"
    done

    "$psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c 'CREATE DATABASE fac' >/dev/null \
        || die "could not create database fac"
    START_OK=1

    local url="postgres://postgres@127.0.0.1:$port/fac"
    echo "$url" >"$dir/database_url"
    say "PostgreSQL $(version) running in $dir on 127.0.0.1:$port${PG_USER:+ as $PG_USER}"
    printf 'export FAC_PG_DIR=%q\nexport DATABASE_URL=%q\n' "$dir" "$url"
}

cmd="${1:-}"
shift || true
case "$cmd" in
    bindir) bindir ;;
    version) version ;;
    start) start "$@" ;;
    stop) stop "$@" ;;
    *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
