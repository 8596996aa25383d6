"""WSGI entry point, served by gunicorn: ``gunicorn fac.wsgi:application``."""

import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fac.settings")

application = get_wsgi_application()


def _check_static_files() -> None:
    """Without ``collectstatic`` every GUI page would fail: refuse to start instead."""
    from django.conf import settings
    from django.contrib.staticfiles.storage import staticfiles_storage

    manifest = getattr(staticfiles_storage, "manifest_name", None)
    if settings.DEBUG or manifest is None:
        return
    if not staticfiles_storage.exists(manifest):
        sys.stderr.write(
            f"fac: the static files are not collected in {settings.STATIC_ROOT}: "
            "run 'manage.py collectstatic --noinput' (scripts/serve.sh does) and start again.\n"
        )
        sys.stderr.flush()
        # Exit code 3 makes gunicorn stop instead of starting workers again.
        sys.exit(3)


_check_static_files()
