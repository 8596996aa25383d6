"""WSGI entry point, served by gunicorn: ``gunicorn fac.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fac.settings")

application = get_wsgi_application()
