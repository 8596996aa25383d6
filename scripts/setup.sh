#!/usr/bin/env bash
# Set up this checkout on Debian/Ubuntu: system packages (only the missing
# ones), a virtualenv in .venv and the pinned Python requirements.
#
#   bash scripts/setup.sh          # what the server needs
#   bash scripts/setup.sh --dev    # plus the test tools and PostgreSQL server binaries
#
# Safe to run again: when everything is in place it installs nothing and
# returns within a second or two. It needs root (or sudo) only when a system
# package is missing; without apt-get it carries on if nothing is missing.
#
# Environment:
#   PYTHON                 interpreter to build .venv from (default: first of
#                          python3, python3.13, python3.12, python3.11 that is >= 3.11)
#   FAC_VENV               virtualenv directory (default: .venv in the checkout)
#   FAC_SETUP_SYSTEM=0     never touch system packages
#   FAC_SETUP_POSTGRES=0   with --dev, do not install the PostgreSQL server
#                          (the test suite then runs on SQLite only)
#   FAC_SETUP_EXTRA_PACKAGES="pkg ..."  more apt packages to ensure
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEV=0
for arg in "$@"; do
    case "$arg" in
        --dev) DEV=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

VENV="${FAC_VENV:-$ROOT/.venv}"
MIN_PY_MAJOR=3
MIN_PY_MINOR=11

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# System packages
# ---------------------------------------------------------------------------
APT_MISSING=()
APT_UPDATED=0

need_pkg() { APT_MISSING+=("$@"); }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 1
    fi
}

apt_install() {
    # apt_install PKG... : install now (apt-get update once, first).
    [ "$#" -gt 0 ] || return 0
    if [ "${FAC_SETUP_SYSTEM:-1}" = 0 ]; then
        die "missing system packages: $* (FAC_SETUP_SYSTEM=0: install them yourself)"
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        die "missing system packages: $* (no apt-get here: install them yourself)"
    fi
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        die "missing system packages: $* (run as root or install sudo)"
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            || die "apt-get update failed"
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || die "apt-get install $* failed"
}

pg_server_bin_dir() {
    # Directory holding initdb, pg_ctl and postgres, or nothing.
    bash "$ROOT/scripts/pg-cluster.sh" bindir 2>/dev/null
}

py_ok() {
    # py_ok INTERPRETER : true when it runs and is >= 3.11
    "$1" -c "import sys; sys.exit(0 if sys.version_info[:2] >= ($MIN_PY_MAJOR, $MIN_PY_MINOR) else 1)" \
        >/dev/null 2>&1
}

find_python() {
    local c
    for c in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$c" >/dev/null 2>&1 && py_ok "$c"; then
            command -v "$c"; return 0
        fi
    done
    return 1
}

# --- what the machine must have --------------------------------------------
PY="$(find_python || true)"
if [ -z "$PY" ]; then
    need_pkg python3 python3-venv python3-pip
fi
command -v openssl >/dev/null 2>&1 || need_pkg openssl
if [ "$DEV" = 1 ] && [ "${FAC_SETUP_POSTGRES:-1}" != 0 ] \
        && [ "${FAC_TEST_DATABASES:-auto}" != sqlite ]; then
    pg_server_bin_dir >/dev/null || need_pkg postgresql
fi

# Packages the browser tests need, as "command:package" pairs: the package is
# installed only when the command is not found. Playwright drives Debian's
# Chromium (tests/gui); it never downloads a browser of its own.
DEV_BROWSER_PACKAGES=(
    "chromium:chromium"
    # The pcap export test reads its output back with tshark.
    "tshark:tshark"
    # The SCEP interop tests (tests/scep/protocol) run Debian's scepclient.
    "scepclient:scep"
    # tests/fac/test_nginx.py runs docs/deploy.md's reverse proxy configuration.
    "nginx:nginx"
)
if [ "$DEV" = 1 ]; then
    for pair in "${DEV_BROWSER_PACKAGES[@]+"${DEV_BROWSER_PACKAGES[@]}"}"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkg "${pair#*:}"
    done
fi
for p in ${FAC_SETUP_EXTRA_PACKAGES:-}; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkg "$p"
done

if [ "${#APT_MISSING[@]}" -gt 0 ]; then
    apt_install "${APT_MISSING[@]}"
fi

if [ -z "$PY" ]; then
    PY="$(find_python || true)"
    if [ -z "$PY" ] && command -v apt-get >/dev/null 2>&1; then
        # e.g. Ubuntu 22.04, whose python3 is 3.10, packages python3.11 apart
        say "python3 is older than $MIN_PY_MAJOR.$MIN_PY_MINOR: trying python3.11"
        apt_install python3.11 python3.11-venv
        PY="$(find_python || true)"
    fi
    [ -n "$PY" ] || die "Python >= $MIN_PY_MAJOR.$MIN_PY_MINOR not found (set PYTHON=/path/to/python3.11+)"
fi

# ---------------------------------------------------------------------------
# Virtualenv
# ---------------------------------------------------------------------------
VPY="$VENV/bin/python"
if [ -e "$VENV" ] && ! py_ok "$VPY"; then
    [ -f "$VENV/pyvenv.cfg" ] || die "$VENV exists but is not a virtualenv: move it away"
    say "$VENV is broken or older than Python $MIN_PY_MAJOR.$MIN_PY_MINOR: rebuilding it"
    rm -rf "$VENV"
fi
if [ ! -x "$VPY" ]; then
    say "creating $VENV with $PY ($("$PY" -V 2>&1))"
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
        # Debian/Ubuntu ship venv's ensurepip separately.
        rm -rf "$VENV"
        pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        if [ "$(readlink -f "$PY")" = "$(readlink -f /usr/bin/python3 2>/dev/null)" ]; then
            apt_install python3-venv python3-pip
        else
            apt_install "python$pyver-venv" python3-pip
        fi
        "$PY" -m venv "$VENV" || die "could not create $VENV with $PY"
    fi
fi

# ---------------------------------------------------------------------------
# Python requirements (skipped when the requirement files did not change)
# ---------------------------------------------------------------------------
req_files=(requirements.txt)
[ "$DEV" = 1 ] && req_files+=(requirements-dev.txt)
mode=runtime
[ "$DEV" = 1 ] && mode=dev
stamp="$VENV/.fac-requirements-$mode"
want="$( { "$VPY" -V 2>&1; cat "${req_files[@]}"; } | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VPY" -c 'import django' 2>/dev/null; then
    say "Python requirements ($mode) already installed in $VENV"
else
    say "installing Python requirements ($mode) into $VENV"
    req="${req_files[-1]}"   # requirements-dev.txt includes requirements.txt
    "$VPY" -m pip install --disable-pip-version-check --no-input -q -r "$req"
    echo "$want" > "$stamp"
    if [ "$DEV" = 1 ]; then
        # dev includes runtime: a later plain setup need not run pip again
        { "$VPY" -V 2>&1; cat requirements.txt; } | sha256sum | cut -d' ' -f1 \
            > "$VENV/.fac-requirements-runtime"
    fi
fi

if [ "$DEV" = 1 ]; then
    if d="$(pg_server_bin_dir)"; then
        say "PostgreSQL server binaries: $d"
    else
        say "PostgreSQL server binaries not found: tests will run on SQLite only"
    fi
fi
say "ready ($("$VPY" -V 2>&1), $VENV)"
