#!/usr/bin/env bash
# Set up, migrate the database, collect static files and run the server.
#
#   bash scripts/serve.sh [GUNICORN ARGS...]
#
# Reads .env (shell syntax, see .env.example) when present. SQLite in data/
# unless DATABASE_URL says otherwise.
#
# Environment:
#   PORT          port to listen on (default 8000)
#   FAC_BIND      address to listen on (default 0.0.0.0, all interfaces)
#   FAC_WORKERS   gunicorn worker processes (default 4)
#   FAC_TIMEOUT   gunicorn worker timeout in seconds (default 60)
#   FAC_SKIP_SETUP=1  do not run scripts/setup.sh first
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '[serve] %s\n' "$*"; }

if [ -f .env ]; then
    say "reading .env"
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi

if [ "${FAC_SKIP_SETUP:-0}" != 1 ]; then
    bash scripts/setup.sh
fi
VPY="${FAC_VENV:-$ROOT/.venv}/bin/python"

DATA_DIR="${FAC_DATA_DIR:-$ROOT/data}"
mkdir -p "$DATA_DIR"
chmod 700 "$DATA_DIR" 2>/dev/null || true

# Django needs a secret key with DEBUG off. Without one in the environment,
# keep a generated one in the data directory so sessions survive restarts.
if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
    keyfile="$DATA_DIR/django_secret_key"
    if [ ! -s "$keyfile" ]; then
        (umask 077; "$VPY" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$keyfile")
        say "generated DJANGO_SECRET_KEY into $keyfile"
    fi
    DJANGO_SECRET_KEY="$(cat "$keyfile")"
    export DJANGO_SECRET_KEY
fi

say "applying database migrations"
"$VPY" manage.py migrate --noinput
say "collecting static files"
"$VPY" manage.py collectstatic --noinput -v 0

BIND="${FAC_BIND:-0.0.0.0}:${PORT:-8000}"
has_admin="$("$VPY" manage.py shell -v 0 -c \
    'from django.contrib.auth import get_user_model
print(get_user_model().objects.filter(is_superuser=True).exists())' 2>/dev/null || echo unknown)"
cat <<EOF

  Server: http://127.0.0.1:${PORT:-8000}/   CMP: http://HOST:${PORT:-8000}/app/cert/cmp2
EOF
if [ "$has_admin" != True ]; then
    cat <<EOF
  No admin user yet. Create the first one (in another terminal) with:
      .venv/bin/python manage.py createsuperuser
EOF
fi
cat <<EOF
  Reached by another host name or address? Add it to DJANGO_ALLOWED_HOSTS
  (now: ${DJANGO_ALLOWED_HOSTS:-localhost,127.0.0.1}).

EOF

say "starting gunicorn on $BIND with ${FAC_WORKERS:-4} workers"
exec "${FAC_VENV:-$ROOT/.venv}/bin/gunicorn" fac.wsgi:application \
    --bind "$BIND" \
    --workers "${FAC_WORKERS:-4}" \
    --timeout "${FAC_TIMEOUT:-60}" \
    --access-logfile - \
    --error-logfile - \
    "$@"
