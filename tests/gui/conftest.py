"""Fixtures for the GUI tests (Django test client and Playwright).

Test-client fixtures: ``admin_user`` (a superuser; password ``ADMIN_PASSWORD``),
``readonly_user`` (staff in the "Read-only administrators" group; password
``READONLY_PASSWORD``), ``admin_client`` and ``readonly_client`` (logged in),
``root_ca`` (an ECDSA local root CA made through certauth.services).

Browser fixtures: ``browser`` (one headless Chromium per session, Debian's
/usr/bin/chromium), ``page`` (a fresh context and page per test), ``login``
(``login(page)`` or ``login(page, username, password)`` against ``live_server``)
and ``screenshot`` (``screenshot(page, "name")`` writes
test-artifacts/screenshots/name.png). Browser tests are skipped when Chromium is
missing, unless the CI environment variable is set: then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from certauth import services
from certauth.gui.access import READ_ONLY_GROUP

# Playwright's sync API runs an asyncio loop in this thread; the live server's
# database work happens in its own thread, so Django's async guard is moot here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "gui-admin-Passw0rd"
READONLY_USERNAME = "auditor"
READONLY_PASSWORD = "gui-readonly-Passw0rd"
KEYSTORE_KEY = "gui-tests-keystore-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _gui_settings(settings):
    """A fixed keystore key, and static files served without a collected manifest."""
    settings.FAC_KEYSTORE_KEY = KEYSTORE_KEY
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


# --- Users and clients -------------------------------------------------------------------


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_superuser(
        ADMIN_USERNAME, "admin@example.com", ADMIN_PASSWORD
    )


@pytest.fixture
def readonly_user(db, django_user_model):
    user = django_user_model.objects.create_user(
        READONLY_USERNAME, "auditor@example.com", READONLY_PASSWORD, is_staff=True
    )
    # The migration creates the group; a transactional test's flush may have removed it.
    group, _ = Group.objects.get_or_create(name=READ_ONLY_GROUP)
    user.groups.add(group)
    return user


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def readonly_client(readonly_user) -> Client:
    client = Client()
    client.force_login(readonly_user)
    return client


@pytest.fixture
def root_ca(db):
    return services.create_ca(
        name="gui.root", subject="C=CZ, O=Example, CN=GUI Root CA", key_type="ec", curve="p256"
    )


# --- Browser -------------------------------------------------------------------------------


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing and CI is set: install Debian's chromium package.")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped.")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def login(live_server, admin_user) -> Callable:
    """``login(page)`` logs in as admin_user; pass username and password for another."""

    def _login(page, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

    return _login


@pytest.fixture
def screenshot() -> Callable:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _screenshot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _screenshot
