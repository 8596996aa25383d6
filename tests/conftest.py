"""Settings shared by every test."""

import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Serve static files without the hashed manifest (no collectstatic in tests)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _forced_logins_are_not_logged(monkeypatch):
    """``client.force_login`` (admin_client and friends) is the harness, not an
    administrator logging in: no "logged in successfully" line for it."""
    from django.contrib.auth import user_logged_in
    from django.test import Client

    from certauth import auth

    original = Client.force_login

    def force_login(self, user, backend=None):
        user_logged_in.disconnect(auth._logged_in)
        try:
            return original(self, user, backend)
        finally:
            user_logged_in.connect(auth._logged_in)

    monkeypatch.setattr(Client, "force_login", force_login)
