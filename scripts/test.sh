#!/usr/bin/env bash
# Run the checks, then the whole test suite on every available database.
#
#   bash scripts/test.sh [PYTEST ARGS...]
#
# 1. scripts/setup.sh --dev (virtualenv, test tools, PostgreSQL server binaries)
# 2. checks: ruff check ., ruff format --check ., mypy (the packages listed in
#    pyproject.toml [tool.mypy] files) and the import contracts
#    (tests/test_layering.py); PYTEST ARGS do not apply to them
# 3. pytest on SQLite
# 4. pytest again on a throw-away PostgreSQL cluster (scripts/pg-cluster.sh),
#    started here and stopped and deleted on exit, failure or interrupt, alongside
#    the SQLite run when there are two CPUs or more; after
#    SQLite, without the tests that do not depend on the database
#    (tests/conftest.py: ONCE and the browser tests not marked every_database)
#
# Exits non-zero when any check failed, or any pytest run failed or collected
# no tests.
#
# Environment:
#   FAC_TEST_DATABASES   "auto" (default): sqlite, plus postgresql when its server
#                        binaries are found; or a comma list of sqlite, postgresql
#                        (postgresql listed explicitly must be available)
#   FAC_TEST_FAIL_FAST=1 skip the remaining databases after a failed check or run
#                        (the databases then run one after the other)
#   FAC_TEST_PARALLEL=0  run PostgreSQL after SQLite, not alongside it
#   FAC_TEST_SKIP_SETUP=1  do not run scripts/setup.sh --dev first
#   FAC_TEST_SKIP_CHECKS=1 do not run the checks (local runs only: CI runs them)
# Results (JUnit XML, PostgreSQL server log on failure) go to test-artifacts/.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

say() { printf '[test] %s\n' "$*"; }

if [ "${FAC_TEST_SKIP_SETUP:-0}" != 1 ]; then
    bash scripts/setup.sh --dev || { say "setup failed"; exit 1; }
fi
VBIN="${FAC_VENV:-$ROOT/.venv}/bin"
VPY="$VBIN/python"

# --- which databases -------------------------------------------------------
requested="${FAC_TEST_DATABASES:-auto}"
DBS=()
SKIPPED=()
pg_available() { bash scripts/pg-cluster.sh bindir >/dev/null 2>&1; }
case "$requested" in
    auto|"")
        DBS=(sqlite)
        if pg_available; then
            DBS+=(postgresql)
        else
            SKIPPED+=("postgresql (no server binaries: initdb/pg_ctl not on PATH nor in /usr/lib/postgresql/*/bin)")
        fi
        ;;
    *)
        IFS=', ' read -r -a DBS <<<"$requested"
        for db in "${DBS[@]}"; do
            case "$db" in
                sqlite) ;;
                postgresql|postgres|pg)
                    pg_available || { say "PostgreSQL requested but its server binaries were not found"; exit 1; } ;;
                *) say "FAC_TEST_DATABASES: unknown database '$db' (use sqlite, postgresql)"; exit 2 ;;
            esac
        done
        ;;
esac

# --- isolation: tests never touch the checkout's data/ ----------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fac-test.XXXXXX")"
FAC_PG_DIR=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    if [ -n "$FAC_PG_DIR" ]; then
        bash scripts/pg-cluster.sh stop "$FAC_PG_DIR" || true
        FAC_PG_DIR=""
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export FAC_DATA_DIR="${FAC_DATA_DIR:-$WORK/data}"
mkdir -p "$FAC_DATA_DIR"
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-test-only-secret-key-not-for-production-0123456789}"
ARTIFACTS="$ROOT/test-artifacts"
mkdir -p "$ARTIFACTS"

PASSED=()
FAILED=()
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0

count_junit() {
    # count_junit FILE -> "passed failed skipped"
    "$VPY" - "$1" <<'EOF' 2>/dev/null || echo "0 0 0"
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = s = 0
for su in suites:
    t += int(su.get("tests", 0))
    f += int(su.get("failures", 0)) + int(su.get("errors", 0))
    s += int(su.get("skipped", 0))
print(max(t - f - s, 0), f, s)
EOF
}

junit_of() { echo "$ARTIFACTS/junit-${1%% *}.xml"; }

account() {
    # account LABEL RC: add a finished pytest run (its JUnit file) to the totals
    local label="$1" rc="$2" junit p f s
    junit="$(junit_of "$label")"
    read -r p f s < <(if [ -f "$junit" ]; then count_junit "$junit"; else echo "0 0 0"; fi)
    TOTAL_PASSED=$((TOTAL_PASSED + p)); TOTAL_FAILED=$((TOTAL_FAILED + f)); TOTAL_SKIPPED=$((TOTAL_SKIPPED + s))
    case "$rc" in
        0) PASSED+=("$label"); say "$label: passed ($p passed, $s skipped)" ;;
        5) FAILED+=("$label (no tests collected)")
           TOTAL_FAILED=$((TOTAL_FAILED + 1))
           say "$label: FAILED: pytest collected no tests (exit 5)" ;;
        *) FAILED+=("$label (pytest exit $rc)")
           [ "$f" -gt 0 ] || TOTAL_FAILED=$((TOTAL_FAILED + 1))
           say "$label: FAILED (pytest exit $rc)" ;;
    esac
}

run_pytest() {
    # run_pytest LABEL [PYTEST ARGS...]: one pytest run in the foreground
    local label="$1" junit rc
    shift
    junit="$(junit_of "$label")"
    rm -f "$junit"
    say "=== pytest on $label ==="
    "$VPY" -m pytest --junitxml="$junit" "$@"
    rc=$?
    account "$label" "$rc"
    return "$rc"
}

# --- checks: lint, format, types, import contracts ---------------------------
CHECKS_PASSED=()
CHECKS_FAILED=()
now_us() {
    # microseconds since the epoch (bash 5), or whole seconds as microseconds
    if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/[.,]/}"; else echo "$((SECONDS * 1000000))"; fi
}
since() {
    # since START_US -> "1.2 s"
    local tenths=$((($(now_us) - $1) / 100000))
    echo "$((tenths / 10)).$((tenths % 10)) s"
}
run_check() {
    # run_check NAME COMMAND [ARGS...]
    local name="$1" start rc
    shift
    say "=== check: $name ==="
    if [ ! -x "$1" ]; then
        CHECKS_FAILED+=("$name (${1##*/} not installed: run scripts/setup.sh --dev)")
        say "$name: FAILED: ${1##*/} is not installed in ${VBIN%/bin}"
        return 1
    fi
    start="$(now_us)"
    "$@"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        CHECKS_PASSED+=("$name")
        say "$name: passed ($(since "$start"))"
    else
        CHECKS_FAILED+=("$name (exit $rc)")
        say "$name: FAILED (exit $rc, $(since "$start"))"
    fi
    return "$rc"
}

CHECKS_TIME=""
if [ "${FAC_TEST_SKIP_CHECKS:-0}" = 1 ]; then
    SKIPPED+=("checks (FAC_TEST_SKIP_CHECKS=1)")
else
    checks_start="$(now_us)"
    run_check "ruff check" "$VBIN/ruff" check .
    run_check "ruff format" "$VBIN/ruff" format --check .
    # The checked packages are pyproject.toml's [tool.mypy] files; the cache
    # (.mypy_cache, git-ignored) makes a second run take a second or two.
    run_check "mypy" "$VBIN/mypy"
    DATABASE_URL="sqlite:///$WORK/checks.sqlite3" \
        run_check "import contracts" "$VPY" -m pytest -q -p no:cacheprovider tests/test_layering.py
    CHECKS_TIME="$(since "$checks_start")"
fi

start_pg() {
    # start_pg: the throw-away cluster; sets FAC_PG_DIR, PG_URL and PG_LABEL
    local out
    out="$(bash scripts/pg-cluster.sh start)" || return 1
    eval "$out"   # sets FAC_PG_DIR and DATABASE_URL
    PG_URL="$DATABASE_URL"
    unset DATABASE_URL
    PG_LABEL="postgresql $(bash scripts/pg-cluster.sh version)"
}

stop_pg() {
    bash scripts/pg-cluster.sh stop "$FAC_PG_DIR" || true
    FAC_PG_DIR=""
}

# After SQLite, the tests that do not depend on the database (the sans-IO
# protocol layers, servers on their own SQLite file, browser rendering:
# tests/conftest.py ONCE) are not run again on PostgreSQL.
once_done=0
[ "${#DBS[@]}" -gt 1 ] && once_done=1
SQLITE_LABEL="sqlite $("$VPY" -c 'import sqlite3; print(sqlite3.sqlite_version)')"

# With both databases and two CPUs or more, the PostgreSQL run goes alongside
# the SQLite run (its output follows SQLite's); FAC_TEST_PARALLEL=0 runs them
# one after the other.
parallel=0
if [ "${#DBS[@]}" -gt 1 ] && [ "${FAC_TEST_PARALLEL:-1}" != 0 ] \
    && [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ] && [ "${FAC_TEST_FAIL_FAST:-0}" != 1 ]; then
    parallel=1
fi

if [ "$parallel" = 1 ]; then
    if start_pg; then
        pg_log="$ARTIFACTS/pytest-postgresql.log"
        rm -f "$(junit_of "$PG_LABEL")"
        say "=== pytest on $PG_LABEL (alongside SQLite; output in $pg_log) ==="
        mkdir -p "$WORK/data-postgresql"
        (
            FAC_DATA_DIR="$WORK/data-postgresql" FAC_TEST_ONCE_DONE="$once_done" \
                DATABASE_URL="$PG_URL" "$VPY" -m pytest --junitxml="$(junit_of "$PG_LABEL")" "$@" \
                >"$pg_log" 2>&1
            echo $? >"$WORK/pg.rc"
        ) &
        pg_pid=$!
        DATABASE_URL="sqlite:///$WORK/fac.sqlite3" run_pytest "$SQLITE_LABEL" "$@"
        wait "$pg_pid"
        say "=== pytest on $PG_LABEL: its output ==="
        cat "$pg_log"
        pg_rc="$(cat "$WORK/pg.rc" 2>/dev/null || echo 1)"
        account "$PG_LABEL" "$pg_rc"
        [ "$pg_rc" = 0 ] || cp "$FAC_PG_DIR/server.log" "$ARTIFACTS/postgresql-server.log" 2>/dev/null || true
        stop_pg
    else
        FAILED+=("postgresql (cluster did not start)")
        TOTAL_FAILED=$((TOTAL_FAILED + 1))
        DATABASE_URL="sqlite:///$WORK/fac.sqlite3" run_pytest "$SQLITE_LABEL" "$@"
    fi
else
    for db in "${DBS[@]}"; do
        if [ $((${#FAILED[@]} + ${#CHECKS_FAILED[@]})) -gt 0 ] && [ "${FAC_TEST_FAIL_FAST:-0}" = 1 ]; then
            SKIPPED+=("$db (FAC_TEST_FAIL_FAST after a failure)")
            continue
        fi
        case "$db" in
            sqlite)
                DATABASE_URL="sqlite:///$WORK/fac.sqlite3" run_pytest "$SQLITE_LABEL" "$@"
                ;;
            postgresql|postgres|pg)
                if ! start_pg; then
                    FAILED+=("postgresql (cluster did not start)")
                    TOTAL_FAILED=$((TOTAL_FAILED + 1))
                    continue
                fi
                if ! FAC_TEST_ONCE_DONE="$once_done" DATABASE_URL="$PG_URL" run_pytest "$PG_LABEL" "$@"; then
                    cp "$FAC_PG_DIR/server.log" "$ARTIFACTS/postgresql-server.log" 2>/dev/null || true
                fi
                stop_pg
                ;;
        esac
    done
fi

echo
say "================ summary ================"
join() { local out="$1"; shift; for x in "$@"; do out+=", $x"; done; echo "$out"; }
[ "${#CHECKS_PASSED[@]}" -gt 0 ] && say "Checks passed: $(join "${CHECKS_PASSED[@]}")"
[ "${#CHECKS_FAILED[@]}" -gt 0 ] && say "Checks FAILED: $(join "${CHECKS_FAILED[@]}")"
[ -n "$CHECKS_TIME" ] && say "Checks took $CHECKS_TIME"
[ "${#PASSED[@]}" -gt 0 ] && say "Tests passed on: $(join "${PASSED[@]}")"
[ "${#FAILED[@]}" -gt 0 ] && say "Tests FAILED on: $(join "${FAILED[@]}")"
for s in "${SKIPPED[@]+"${SKIPPED[@]}"}"; do say "Not run: $s"; done
echo "Total: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
if [ "${#FAILED[@]}" -gt 0 ] || [ "${#CHECKS_FAILED[@]}" -gt 0 ] || [ "${#PASSED[@]}" -eq 0 ]; then
    exit 1
fi
exit 0
