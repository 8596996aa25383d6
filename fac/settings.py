"""Settings, read from the environment (and an optional ``.env`` file).

Every variable has a default that works for a local run; ``.env.example``
documents them. Production deployments set at least ``DJANGO_SECRET_KEY``,
``FAC_KEYSTORE_KEY`` and ``DJANGO_ALLOWED_HOSTS`` (see docs/deploy.md).
"""

import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _refuse_inline_comments() -> None:
    """A value followed by ``  # comment`` keeps the comment in django-environ and
    systemd (a shell strips it): the service and the CLI would then disagree, e.g.
    on FAC_KEYSTORE_KEY. Comments go on lines of their own."""
    for name, value in os.environ.items():
        if name.startswith(("FAC_", "DJANGO_", "DATABASE_")) and re.search(r"\s#", value):
            raise ImproperlyConfigured(
                f"{name} looks like it carries an inline comment ('... #'): "
                "put comments on a line of their own in the environment file."
            )


_refuse_inline_comments()

DATA_DIR = Path(env.str("FAC_DATA_DIR", default=str(BASE_DIR / "data")))
if not DATA_DIR.exists():
    # Keys, the database and secrets live here: only the service's user reads it.
    DATA_DIR.mkdir(parents=True, mode=0o700)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])


def _secret_key() -> str:
    """The Django secret key: from the environment, else one generated into DATA_DIR."""
    value = env.str("DJANGO_SECRET_KEY", default="")
    if value:
        return value
    from fac.datafiles import read_or_create_secret

    return read_or_create_secret(DATA_DIR / "django-secret-key")


SECRET_KEY = _secret_key()

# Key that encrypts CA private keys and enrollment passwords at rest
# (certauth.keystore). Empty: a key is generated into DATA_DIR on first use,
# which is only good for a single host.
FAC_KEYSTORE_KEY = env.str("FAC_KEYSTORE_KEY", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "certauth",
    "cmp",
    "scep",
]

MIDDLEWARE = [
    "fac.security.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "fac.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fac.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "certauth.gui.access.gui_context",
                "fac.context_processors.debug_mode",
            ],
        },
    },
]

WSGI_APPLICATION = "fac.wsgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'fac.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _synchronous = env.str("FAC_SQLITE_SYNCHRONOUS", default="FULL").upper()
    if _synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ImproperlyConfigured("FAC_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA.")
    # Several gunicorn workers share the file: take the write lock when a
    # transaction begins (no lock upgrade deadlocks) and wait for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            # Write-ahead log: a commit appends to one file, readers never
            # wait for a writer. synchronous=FULL (the default) syncs the log
            # at every commit, so an issued certificate survives a power cut;
            # NORMAL syncs at checkpoints only (less CPU and latency; a power
            # cut may lose the last commits, never the database's consistency).
            "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={_synchronous}",
        }
    )
    _sqlite = str(DATABASES["default"]["NAME"])
    if _sqlite and not _sqlite.startswith(":memory:") and not os.path.exists(_sqlite):
        # Created private: the file holds sealed keys and the event log.
        os.close(os.open(_sqlite, os.O_CREAT | os.O_WRONLY, 0o600))
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections between requests (each worker thread its own), checked
# before reuse: no connection set-up on the CMP hot path.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("FAC_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: the CMP and SCEP hot-path statements (certauth.prepared) are
# prepared once per connection. Off for a pooler that cannot keep prepared
# statements (PgBouncer in transaction mode before 1.21).
FAC_DB_PREPARED_STATEMENTS = env.bool("FAC_DB_PREPARED_STATEMENTS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and FAC_DB_PREPARED_STATEMENTS:
    # psycopg prepares a statement of a server-side binding cursor on its first
    # run; only certauth.prepared makes such cursors (Django's own cursors bind
    # on the client and never prepare).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Logins are throttled against guessing (certauth.auth, certauth.throttle).
AUTHENTICATION_BACKENDS = ["certauth.auth.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TZ", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("FAC_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# collectstatic fills it; whitenoise warns at start-up when it does not exist yet.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_AGE = env.int("FAC_SESSION_SECONDS", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# No inline script and nothing from another site: the GUI's one script is
# static/js/fac.js. Styles may be inline (a few page-specific <style> blocks).
FAC_CSP = env.str(
    "FAC_CSP",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
)

# Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
# (addresses or networks, e.g. 127.0.0.1,10.0.0.0/8); from anyone else these
# headers are dropped (fac.security.TrustedProxyMiddleware).
FAC_TRUSTED_PROXIES = env.list("FAC_TRUSTED_PROXIES", default=[])
if FAC_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# FAC_HTTPS=true: the GUI is served over HTTPS (docs/deploy.md: nginx in front).
# Cookies are then sent over HTTPS only, browsers are told to use HTTPS (HSTS),
# and GUI requests over HTTP are redirected. Devices keep plain HTTP for what
# they fetch before they trust us: CMP, SCEP, CRLs, OCSP (as on a
# FortiAuthenticator); those paths are never redirected.
FAC_HTTPS = env.bool("FAC_HTTPS", default=False)
if FAC_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [
        r"^app/cert/",
        r"^cert/scep",
        r"^cgi-bin/pkiclient\.exe",
        r"^\.well-known/cmp",
    ]
    SECURE_HSTS_SECONDS = env.int("FAC_HSTS_SECONDS", default=31536000)
    # Subdomains and the browsers' preload list concern other hosts of the
    # domain: opt-in, and check --deploy is told so.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("FAC_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("FAC_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = [
        *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
        *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
    ]

# Base URL under which devices reach this server, e.g. http://ca.example.net:8000.
# When set, issued certificates carry a CRL distribution point
# ({base}/app/cert/crl/<CA>.crl) and an OCSP responder URL ({base}/app/cert/ocsp).
FAC_PUBLIC_URL = env.str("FAC_PUBLIC_URL", default="").rstrip("/")

# CMP server (/app/cert/cmp2).
# Largest CMP message accepted (bytes); larger bodies get HTTP 413 unread. A
# signed request with its chain is a few KiB.
FAC_CMP_MAX_BODY = env.int("FAC_CMP_MAX_BODY", default=64 * 1024)
# Seconds an issued certificate waits for its certConf before it is revoked.
FAC_CMP_CONFIRM_WAIT = env.int("FAC_CMP_CONFIRM_WAIT", default=300)
# Tolerated difference between a request's messageTime and our clock.
FAC_CMP_CLOCK_SKEW = env.int("FAC_CMP_CLOCK_SKEW", default=600)
# Failed authentications of one enrollment ID, administrator or source address
# within 15 minutes before it is locked out (certauth.throttle). A site whose
# many devices reach the CA through one NAT address may raise it.
FAC_THROTTLE_FAILURES = env.int("FAC_THROTTLE_FAILURES", default=10)
# Seconds between two housekeeping runs (unconfirmed-certificate sweep, CRL
# refresh) in one server process; cmp_sweep runs it on demand.
FAC_HOUSEKEEPING_SECONDS = env.int("FAC_HOUSEKEEPING_SECONDS", default=30)
# Debug traces: each message stored up to FAC_TRACE_BODY_BYTES, all of them
# within FAC_TRACE_BYTES (oldest roll off).
FAC_TRACE_BODY_BYTES = env.int("FAC_TRACE_BODY_BYTES", default=64 * 1024)
FAC_TRACE_BYTES = env.int("FAC_TRACE_BYTES", default=32 * 1024 * 1024)
# Debug traces kept (oldest roll off).
FAC_CMP_TRACE_LIMIT = env.int("FAC_CMP_TRACE_LIMIT", default=500)

# Outgoing e-mail (the daily expiry summary, System > Alerts): Django's SMTP
# settings. Without EMAIL_HOST the summary goes to localhost:25; a failure is
# written to the event log, never raised.
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="fac-ca@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"forbidden": {"()": "fac.log.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("FAC_LOG_LEVEL", default="INFO")},
    # An ordinary 403 is logged as one warning line, without a traceback.
    "loggers": {"django": {"level": "WARNING"}, "django.request": {"filters": ["forbidden"]}},
}
