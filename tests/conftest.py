"""Settings shared by every test."""

import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Serve static files without the hashed manifest (no collectstatic in tests)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
