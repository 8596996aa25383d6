"""System > Administrators and Change Password, in a real browser and with the test client;
the styled 403/404/500 pages, and a refused click that logs no traceback."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.template import loader
from django.test import Client
from django.urls import include
from django.urls import path as url_path

from certauth import admins, events
from certauth.models import LogEntry
from tests.gui.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, READONLY_USERNAME

OPERATOR = "operator"
OPERATOR_PASSWORD = "Operat0r-long-passphrase"
NEW_ADMIN_PASSWORD = "Renewed-admin-passphrase-2"


def _no_overflow(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide in a {width} px window"


def _login(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


# --- In the browser -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_second_administrator_created_demoted_and_disabled(
    live_server, browser, page, login, screenshot, caplog
):
    url = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    login(page)

    # System > Administrators from the navigation tree.
    page.click("nav.app-nav >> text=Administrators")
    page.wait_for_url(f"{url}/system/administrators/")
    assert page.inner_text("tr[data-username=admin] td.role") == "Administrator"
    screenshot(page, "e01-administrators")

    # Create New: mismatched passwords and a taken name are errors on their fields.
    page.click(".toolbar >> text=Create New")
    page.wait_for_url(f"{url}/system/administrators/new/")
    page.fill("input[name=username]", "ADMIN")
    page.fill("input[name=email]", "operator@example.com")
    page.select_option("select[name=role]", admins.ADMINISTRATOR)
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.fill("input[name=password_again]", OPERATOR_PASSWORD + "x")
    page.click("button[type=submit].btn-primary")
    assert "not the same" in page.inner_text("#field-password_again .errorlist")
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.fill("input[name=password_again]", OPERATOR_PASSWORD)
    page.click("button[type=submit].btn-primary")
    assert "An account named ADMIN exists already." in page.inner_text("#field-username .errorlist")
    screenshot(page, "e02-administrator-create-errors")
    page.fill("input[name=username]", OPERATOR)
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.fill("input[name=password_again]", OPERATOR_PASSWORD)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(f"{url}/system/administrators/")
    assert "Administrator operator was created (Administrator)." in page.inner_text(".messages")
    assert page.inner_text(f"tr[data-username={OPERATOR}] td.role") == "Administrator"
    assert "never" in page.inner_text(f"tr[data-username={OPERATOR}]")

    # The operator logs in in another browser and may change things.
    other = browser.new_context(viewport={"width": 1360, "height": 900})
    theirs = other.new_page()
    theirs.set_default_timeout(15_000)
    theirs.on("dialog", lambda dialog: dialog.accept())
    _login(theirs, url, OPERATOR, OPERATOR_PASSWORD)
    theirs.wait_for_url(f"{url}/")
    theirs.goto(f"{url}/system/administrators/")
    assert theirs.locator(".toolbar >> text=Create New").count() == 1
    # A page left open while the role changes.
    theirs.goto(f"{url}/system/alerts/")
    assert theirs.locator("#alert-settings button[type=submit]").count() == 1

    # Demoted to read-only by the first administrator.
    operator = get_user_model().objects.get(username=OPERATOR)
    page.click(f"tr[data-username={OPERATOR}] >> text=Edit")
    page.wait_for_url(f"{url}/system/administrators/{operator.pk}/")
    page.select_option("select[name=role]", admins.READ_ONLY)
    screenshot(page, "e03-administrator-edit")
    page.click("#edit-form button[type=submit].btn-primary")
    page.wait_for_url(f"{url}/system/administrators/{operator.pk}/")
    assert "Administrator operator was saved." in page.inner_text(".messages")
    assert page.inner_text("#administrator dd.role") == "Read-only administrator"

    # Their stale page's OK is refused with the styled 403, logged without a traceback.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="django.request"):
        theirs.click("#alert-settings button[type=submit]")
        theirs.wait_for_selector("#error-403")
    assert "Access denied" in theirs.inner_text("h1.page-title")
    assert "Read-only administrators cannot change the alert settings." in theirs.inner_text(
        "#error-403"
    )
    assert theirs.locator("nav.app-nav").count() == 1  # inside the GUI's layout
    screenshot(theirs, "e04-forbidden")
    forbidden = [r for r in caplog.records if r.getMessage().startswith("Forbidden")]
    assert [r.getMessage() for r in forbidden] == ["Forbidden (Permission denied): /system/alerts/"]
    assert forbidden[0].exc_info is None and forbidden[0].levelname == "WARNING"

    # Read-only: the list and details without change buttons.
    theirs.goto(f"{url}/system/administrators/")
    assert theirs.locator(".toolbar >> text=Create New").count() == 0
    assert theirs.locator("table#administrators >> text=Edit").count() == 0
    assert "read-only" in theirs.inner_text("header .role")
    theirs.click(f"table#administrators >> text={ADMIN_USERNAME}")
    theirs.wait_for_url(f"{url}/system/administrators/*/")
    assert theirs.locator("#edit-form button[type=submit]").count() == 0
    assert theirs.locator("#reset-form").count() == 0
    assert theirs.locator("select[name=role]").is_disabled()
    screenshot(theirs, "e05-administrator-read-only")

    # Disabled: the open session ends at its next request, and a login is refused.
    page.uncheck("input[name=enabled]")
    page.click("#edit-form button[type=submit].btn-primary")
    page.wait_for_url(f"{url}/system/administrators/{operator.pk}/")
    assert "Disabled" in page.inner_text("#administrator dd.state")
    theirs.goto(f"{url}/system/administrators/")
    theirs.wait_for_url(f"{url}/login/?next=/system/administrators/")
    _login(theirs, url, OPERATOR, OPERATOR_PASSWORD)
    assert "errorlist" in theirs.inner_html(".login-box")
    assert theirs.url.startswith(f"{url}/login/")
    other.close()

    # Own account: neither demoted nor disabled; the rule shows on its field.
    me = get_user_model().objects.get(username=ADMIN_USERNAME)
    page.goto(f"{url}/system/administrators/{me.pk}/")
    page.uncheck("input[name=enabled]")
    page.click("#edit-form button[type=submit].btn-primary")
    assert "You cannot disable your own account." in page.inner_text("#field-enabled .errorlist")
    assert page.locator("#reset-form").count() == 0  # own password: Change Password

    page.goto(f"{url}/system/administrators/")
    assert "Disabled" in page.inner_text(f"tr[data-username={OPERATOR}] td.state")
    assert "Read-only administrator" in page.inner_text(f"tr[data-username={OPERATOR}] td.role")

    # The event log says it all, in FortiAuthenticator's wording.
    page.goto(f"{url}/logging/logs/")
    logs = page.inner_text("main")
    for line in (
        "Administrator 'operator' was created (Administrator)",
        "Role of administrator 'operator' was changed from Administrator to "
        "Read-only administrator",
        "Administrator 'operator' was disabled",
    ):
        assert line in logs


@pytest.mark.django_db(transaction=True)
def test_password_reset_and_change_in_browser(live_server, browser, page, login, screenshot):
    url = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    operator = admins.create_administrator(
        username=OPERATOR, password=OPERATOR_PASSWORD, role=admins.READ_ONLY
    )
    login(page)

    # Another administrator's password is reset; their open session ends.
    other = browser.new_context()
    theirs = other.new_page()
    _login(theirs, url, OPERATOR, OPERATOR_PASSWORD)
    theirs.wait_for_url(f"{url}/")
    page.goto(f"{url}/system/administrators/{operator.pk}/")
    page.fill("#reset-form input[name=password]", "short")
    page.fill("#reset-form input[name=password_again]", "short")
    page.click("#reset-form button[type=submit]")
    assert "too short" in page.inner_text("#reset-form #field-password .errorlist")
    page.fill("#reset-form input[name=password]", "Fresh-operator-passphrase")
    page.fill("#reset-form input[name=password_again]", "Fresh-operator-passphrase")
    page.click("#reset-form button[type=submit]")
    page.wait_for_url(f"{url}/system/administrators/{operator.pk}/")
    assert "The password of operator was reset" in page.inner_text(".messages")
    theirs.goto(f"{url}/")
    theirs.wait_for_url(f"{url}/login/?next=/")
    _login(theirs, url, OPERATOR, "Fresh-operator-passphrase")
    theirs.wait_for_url(f"{url}/")

    # A read-only administrator changes their own password too, from the header bar.
    theirs.click("header >> text=Change Password")
    theirs.wait_for_url(f"{url}/system/password/")
    theirs.fill("input[name=old_password]", "Fresh-operator-passphrase")
    theirs.fill("input[name=new_password]", "Own-choice-passphrase-9")
    theirs.fill("input[name=new_password_again]", "Own-choice-passphrase-9")
    theirs.click("button[type=submit].btn-primary")
    assert "Your password was changed." in theirs.inner_text(".messages")
    other.close()

    # The administrator's own change: errors on their fields, then the session stays.
    page.click("header >> text=Change Password")
    page.wait_for_url(f"{url}/system/password/")
    page.fill("input[name=old_password]", "not-my-password")
    page.fill("input[name=new_password]", NEW_ADMIN_PASSWORD)
    page.fill("input[name=new_password_again]", NEW_ADMIN_PASSWORD)
    page.click("button[type=submit].btn-primary")
    assert "The current password is not correct." in page.inner_text(
        "#field-old_password .errorlist"
    )
    page.fill("input[name=old_password]", ADMIN_PASSWORD)
    page.fill("input[name=new_password]", "12345678")
    page.fill("input[name=new_password_again]", "12345678")
    page.click("button[type=submit].btn-primary")
    assert "numeric" in page.inner_text("#field-new_password .errorlist")
    page.fill("input[name=old_password]", ADMIN_PASSWORD)
    page.fill("input[name=new_password]", NEW_ADMIN_PASSWORD)
    page.fill("input[name=new_password_again]", NEW_ADMIN_PASSWORD)
    screenshot(page, "e06-change-password")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(f"{url}/system/password/")
    assert "Your password was changed." in page.inner_text(".messages")
    page.goto(f"{url}/system/administrators/")  # still logged in
    assert page.url == f"{url}/system/administrators/"

    fresh = browser.new_context()
    again = fresh.new_page()
    _login(again, url, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert again.url.startswith(f"{url}/login/")  # the old password no longer works
    _login(again, url, ADMIN_USERNAME, NEW_ADMIN_PASSWORD)
    again.wait_for_url(f"{url}/")
    fresh.close()
    messages = set(LogEntry.objects.values_list("message", flat=True))
    assert "Password of administrator 'operator' was reset" in messages
    assert "Administrator 'operator' changed their password" in messages
    assert "Administrator 'admin' changed their password" in messages


@pytest.mark.django_db(transaction=True)
def test_system_pages_fit_1024(live_server, page, login, screenshot, readonly_user):
    url = live_server.url
    login(page)
    page.set_viewport_size({"width": 1024, "height": 800})
    reader = get_user_model().objects.get(username=READONLY_USERNAME)
    for path, name in (
        ("/system/administrators/", "e07-administrators-1024"),
        ("/system/administrators/new/", "e08-administrator-create-1024"),
        (f"/system/administrators/{reader.pk}/", "e09-administrator-detail-1024"),
        ("/system/password/", "e10-change-password-1024"),
        ("/system/alerts/", "e11-alerts-1024"),
        ("/no/such/page/", "e12-not-found-1024"),
    ):
        page.goto(f"{url}{path}")
        _no_overflow(page, 1024)
        screenshot(page, name)
    assert "Page not found" in page.inner_text("h1.page-title")


# --- With the test client ----------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_read_only_administrators_cannot_post(readonly_client, admin_user):
    target = admin_user.pk
    for path, data in (
        ("/system/administrators/new/", {}),
        (f"/system/administrators/{target}/", {"role": "read-only", "enabled": ""}),
        (f"/system/administrators/{target}/password/", {"password": "x", "password_again": "x"}),
        ("/system/alerts/", {"email": "", "warning_days": "30"}),
        ("/system/alerts/run/", {}),
    ):
        response = readonly_client.post(path, data)
        assert response.status_code == 403, path
        assert b"Access denied" in response.content
    assert readonly_client.get("/system/administrators/new/").status_code == 403
    assert readonly_client.get("/system/administrators/").status_code == 200
    assert get_user_model().objects.get(pk=target).is_active
    assert not LogEntry.objects.filter(log_type_id=events.ADMIN_ROLE_CHANGED.id).exists()


@pytestmark_db
def test_the_last_administrator_cannot_be_demoted_in_the_gui(admin_client, admin_user):
    # admin is the only Administrator; a second one makes the rule about admin's own account.
    response = admin_client.post(
        f"/system/administrators/{admin_user.pk}/", {"role": "read-only", "enabled": "on"}
    )
    assert response.status_code == 200
    assert b"You cannot make your own account read-only." in response.content
    assert b'id="field-role"' in response.content


@pytestmark_db
def test_a_forbidden_request_logs_one_line_without_traceback(readonly_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = readonly_client.post("/cmp/general/", {})
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in records] == [
        ("WARNING", "Forbidden (Permission denied): /cmp/general/", None)
    ]
    # The formatted line carries no traceback either.
    handler = logging.getLogger().handlers[0]
    assert "Traceback" not in handler.format(records[0])


@pytestmark_db
def test_error_pages_are_styled(client, admin_client):
    # Not logged in: the plain box; logged in: inside the GUI's layout.
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"login-box error-box" in response.content and b"app-nav" not in response.content
    assert b"/no/such/page/" in response.content
    response = admin_client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"app-nav" in response.content and b"Page not found" in response.content
    # A form posted without its security token: the styled page, nothing changed.
    guarded = Client(enforce_csrf_checks=True)
    response = guarded.post("/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert response.status_code == 403
    assert b"Form expired" in response.content and b"login-box error-box" in response.content
    # 500.html needs neither a request nor the database.
    html = loader.get_template("500.html").render()
    assert "Server error" in html and "<style>" in html


def _boom(request):
    raise RuntimeError("boom")


# A URLconf for the 500 test: the product's, plus a view that fails.
urlpatterns = [url_path("", include("fac.urls")), url_path("test-boom/", _boom)]


@pytestmark_db
def test_server_error_renders_the_styled_500(admin_user, settings):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get("/test-boom/")
    assert response.status_code == 500
    assert b"Server error" in response.content and b"boom" not in response.content
