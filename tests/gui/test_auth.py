"""Login, logout and the access rules every GUI page follows."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.gui.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_login_and_logout(admin_user):
    client = Client()
    response = client.post("/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    # Logout is POST only: a GET (a link, an image) cannot end the session.
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_a_form_error(admin_user, client):
    response = client.post("/login/", {"username": ADMIN_USERNAME, "password": "wrong"})
    assert response.status_code == 200
    assert b"errorlist" in response.content


def test_non_staff_cannot_log_in(django_user_model, client):
    django_user_model.objects.create_user("plain", password="plain-Passw0rd")
    response = client.post("/login/", {"username": "plain", "password": "plain-Passw0rd"})
    assert response.status_code == 200
    assert b"not an administrator account" in response.content


def test_csrf_enforced_on_login(admin_user):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert response.status_code == 403


def test_session_expiry_is_configured(settings):
    assert settings.SESSION_COOKIE_AGE > 0
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
