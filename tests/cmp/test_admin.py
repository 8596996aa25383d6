"""The CMP models in the Django admin."""

import pytest
from django.urls import reverse

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
