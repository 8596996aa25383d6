#!/usr/bin/env bash
# Set up, migrate the database, collect static files and run the server.
#
#   bash scripts/serve.sh [GUNICORN ARGS...]
#
# SQLite in data/ unless DATABASE_URL says otherwise. The settings read the
# environment and .env (see .env.example); the variables below may be in
# either.
#
# Environment:
#   PORT          port to listen on (default 8000)
#   FAC_BIND      address to listen on (default 0.0.0.0, all interfaces)
#   FAC_WORKERS   gunicorn worker processes (default 4)
#   FAC_THREADS   threads per worker (default 8): a client that sends its
#                 request slowly holds one thread, not a whole worker, so the
#                 others keep answering (docs/deploy.md: nginx in production)
#   FAC_TIMEOUT   gunicorn worker timeout in seconds (default 60)
#   FAC_SKIP_SETUP=1  do not run scripts/setup.sh first
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '[serve] %s\n' "$*"; }

# The Django settings read .env themselves; take this script's own variables
# from it too when they are not in the environment.
env_default() {
    local key="$1" line
    [ -z "${!key:-}" ] && [ -f .env ] || return 0
    line="$(grep -E "^[[:space:]]*(export[[:space:]]+)?$key=" .env | tail -1 || true)"
    [ -n "$line" ] || return 0
    line="${line#*=}"; line="${line%\"}"; line="${line#\"}"; line="${line%\'}"; line="${line#\'}"
    printf -v "$key" '%s' "$line"
}
for var in PORT FAC_BIND FAC_WORKERS FAC_THREADS FAC_TIMEOUT DJANGO_ALLOWED_HOSTS; do
    env_default "$var"
done

if [ "${FAC_SKIP_SETUP:-0}" != 1 ]; then
    bash scripts/setup.sh
fi
VPY="${FAC_VENV:-$ROOT/.venv}/bin/python"

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
    echo "  No admin user yet. Create the first one (in another terminal) with:"
else
    echo "  Create more admin users with:"
fi
echo "      .venv/bin/python manage.py createsuperuser"
cat <<EOF
  Reached by another host name or address? Add it to DJANGO_ALLOWED_HOSTS
  (now: ${DJANGO_ALLOWED_HOSTS:-localhost,127.0.0.1}).

EOF

say "starting gunicorn on $BIND with ${FAC_WORKERS:-4} workers of ${FAC_THREADS:-8} threads"
exec "${FAC_VENV:-$ROOT/.venv}/bin/gunicorn" fac.wsgi:application \
    --bind "$BIND" \
    --workers "${FAC_WORKERS:-4}" \
    --worker-class gthread \
    --threads "${FAC_THREADS:-8}" \
    --timeout "${FAC_TIMEOUT:-60}" \
    --access-logfile - \
    --error-logfile - \
    --no-control-socket \
    "$@"
