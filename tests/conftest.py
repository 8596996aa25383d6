"""Settings shared by every test, and which tests run once when several databases are tested."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

#: Tests whose outcome does not depend on the database (DATABASE_URL): the sans-IO
#: protocol layers, the tests that start their own server on their own SQLite file,
#: and what only polls a real client's fixed timer. scripts/test.sh runs them on the
#: first database only (FAC_TEST_ONCE_DONE=1 for the others).
ONCE = (
    "cmp/protocol/",
    "scep/protocol/",
    "fac/test_serve.py",
    "fac/test_nginx.py",
    "scep/test_scepclient_e2e.py::test_manual_approval_while_scepclient_polls",
    "scep/test_scepclient_e2e.py::test_every_path",
)
#: Fixtures of a test driven in the browser: the pages render the same whatever
#: the database; what the views read and write is tested on every database by the
#: Django test-client tests beside them and by the end-to-end tests (``every_database``).
BROWSER_FIXTURES = {"page", "browser"}
#: Browser tests run on every database all the same: the administrator's whole flow.
EVERY_DATABASE = ("gui/test_browser_end_to_end.py",)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "every_database: a browser test run on each database scripts/test.sh tests "
        "(the others run on the first one only)",
    )


def _once(item) -> bool:
    where = Path(str(item.path)).relative_to(ROOT).as_posix() + "::" + item.name
    if any(where.startswith(prefix) for prefix in ONCE):
        return True
    browser = BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
    every = item.get_closest_marker("every_database") is not None or where.startswith(
        EVERY_DATABASE
    )
    return bool(browser) and not every


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FAC_TEST_ONCE_DONE") != "1":
        return
    keep = [item for item in items if not _once(item)]
    dropped = [item for item in items if _once(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


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
