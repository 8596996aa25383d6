"""The CMP models in the Django admin."""

import pytest
from django.urls import reverse

from certauth.models import LogEntry
from cmp import services

pytestmark = pytest.mark.django_db


def test_cmp_admin_pages(admin_client) -> None:
    services.config()
    services.record_trace(
        lines="CMP request received: 2 bytes",
        request_der=b"\x30\x00",
        body_type="ir",
        sender_kid="fgt100f",
    )
    for name in ("cmpconfig", "cmptransaction", "cmptrace"):
        response = admin_client.get(reverse(f"admin:cmp_{name}_changelist"))
        assert response.status_code == 200, name
    trace = services.config()  # the settings row
    response = admin_client.get(reverse("admin:cmp_cmpconfig_change", args=[trace.pk]))
    assert response.status_code == 200
    assert b"confirm wait time" in response.content.lower()


def _settings_form(**overrides) -> dict:
    data = {
        "enabled": "on",
        "default_ca": "",
        "confirm_wait": "300",
        "poll_interval": "10",
        "revoke_superseded": "on",
        "revoke_reenrolled": "on",
        "strict_header_checks": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("confirm_wait", "0", "Confirm wait time must be between 1 and 86400 seconds."),
        ("confirm_wait", "86401", "Confirm wait time must be between 1 and 86400 seconds."),
        ("poll_interval", "3601", "Poll interval must be between 1 and 3600 seconds."),
    ],
)
def test_admin_keeps_the_settings_bounds(admin_client, field, value, error) -> None:
    config = services.config()
    url = reverse("admin:cmp_cmpconfig_change", args=[config.pk])
    response = admin_client.post(url, _settings_form(**{field: value}))
    assert response.status_code == 200
    assert error in response.content.decode()
    config.refresh_from_db()
    assert (config.confirm_wait, config.poll_interval) == (300, 10)
    assert not LogEntry.objects.exists()


def test_admin_settings_change_is_logged_like_the_gui(admin_client) -> None:
    config = services.config()
    url = reverse("admin:cmp_cmpconfig_change", args=[config.pk])
    response = admin_client.post(url, _settings_form(confirm_wait="600", debug="on"))
    assert response.status_code == 302
    config.refresh_from_db()
    assert (config.confirm_wait, config.debug) == (600, True)
    assert list(LogEntry.objects.order_by("id").values_list("message", "user")) == [
        ("CMP settings changed: confirm wait time (seconds): 300 -> 600", "admin"),
        ("CMP debug mode enabled", "admin"),
    ]


def test_admin_cannot_add_a_second_settings_row(admin_client) -> None:
    services.config()
    response = admin_client.get(reverse("admin:cmp_cmpconfig_add"))
    assert response.status_code == 403
