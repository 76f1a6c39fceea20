#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the ledger's tests, on loopback, on a free port.
#
#   source .ci/postgres.sh            # starts it, exports PAYMUX_TEST_POSTGRES_URL, stops it on exit
#   .ci/postgres.sh -- make test      # the same around one command
#
# Installs PostgreSQL from Debian packages when no server binaries are found (needs root and
# apt-get). postgres refuses to run as root, so under root the cluster runs as the `postgres`
# system user (created if missing). A URL already in PAYMUX_TEST_POSTGRES_URL is used as is.

_pg_log() { echo "postgres.sh: $*" >&2; }

_pg_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
    fi
    # Debian keeps the server binaries out of PATH, one folder per major version.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    return 1
}

_pg_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        _pg_log "no PostgreSQL server found and cannot install one (needs root and apt-get)"
        return 1
    fi
    _pg_log "installing PostgreSQL from Debian packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_pg_as() {
    # Run a command as the cluster's owner.
    if [ -z "${_PG_USER:-}" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$_PG_USER" -- "$@"
    else
        su -s /bin/sh "$_PG_USER" -c "$(printf '%q ' "$@")"
    fi
}

paymux_pg_stop() {
    if [ -n "${_PG_DIR:-}" ] && [ -d "$_PG_DIR" ]; then
        _pg_as "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$_PG_DIR"
        _pg_log "cluster stopped"
    fi
    _PG_DIR=""
}

paymux_pg_start() {
    if [ -n "${PAYMUX_TEST_POSTGRES_URL:-}" ]; then
        _pg_log "using the server in PAYMUX_TEST_POSTGRES_URL"
        return 0
    fi
    _PG_BIN="$(_pg_bindir)" || { _pg_install && _PG_BIN="$(_pg_bindir)"; } || return 1
    _PG_USER=""
    if [ "$(id -u)" = 0 ]; then
        _PG_USER=postgres
        id -u "$_PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$_PG_USER"
    fi
    _PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/paymux-pg.XXXXXX")"
    chmod 755 "$_PG_DIR"
    [ -n "$_PG_USER" ] && chown "$_PG_USER" "$_PG_DIR"
    local port
    port="$(_pg_free_port)"
    _pg_as "$_PG_BIN/initdb" -D "$_PG_DIR/data" -U paymux --auth=trust -E UTF8 --no-locale >"$_PG_DIR/initdb.log" 2>&1 \
        || { cat "$_PG_DIR/initdb.log" >&2; paymux_pg_stop; return 1; }
    # fsync off: a test cluster that dies with its data is fine, and it is much faster.
    _pg_as "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -l "$_PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null \
        || { cat "$_PG_DIR/server.log" >&2; paymux_pg_stop; return 1; }
    _pg_as "$_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U paymux paymux_test \
        || { paymux_pg_stop; return 1; }
    export PAYMUX_TEST_POSTGRES_URL="postgresql+psycopg://paymux@127.0.0.1:$port/paymux_test"
    _pg_log "$("$_PG_BIN/postgres" --version) on 127.0.0.1:$port"
    echo "PAYMUX_TEST_POSTGRES_URL=$PAYMUX_TEST_POSTGRES_URL"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: start now, stop when the sourcing shell exits.
    paymux_pg_start || return 1
    trap paymux_pg_stop EXIT
else
    set -euo pipefail
    [ "${1:-}" = "--" ] && shift
    paymux_pg_start
    trap paymux_pg_stop EXIT
    if [ "$#" -gt 0 ]; then
        "$@"
    else
        _pg_log "started; no command given, stopping again (source this file to keep it running)"
    fi
fi
