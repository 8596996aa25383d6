"""The event log: one lifecycle, every line as the Logs page shows it."""

import pytest

from certauth import services
from certauth.models import LogEntry
from tests.certauth.conftest import fixture_bytes, name

pytestmark = pytest.mark.django_db


def test_lifecycle_messages(ec_key):
    admin = services.Actor(user="admin", source_ip="192.0.2.10")
    root = services.create_ca(
        name="fac.cz.root", subject="CN=fac.cz.root", key_type="ec", actor=admin
    )
    vendor = services.import_ca(
        name="vendor.root",
        certificate_data=fixture_bytes("vendor-root.pem"),
        trusted=True,
        actor=admin,
    )
    imported = services.import_ca(
        name="openssl.root",
        certificate_data=fixture_bytes("openssl-root.pem"),
        key_data=fixture_bytes("openssl-root.key"),
        actor=admin,
    )
    enrollment = services.create_enrollment(
        reference="fgt100f", password="pw-1", ca=root, actor=admin
    )
    services.update_enrollment(enrollment, validity_days=30, actor=admin)
    cert = services.issue_from_csr(
        ca=root, csr_data=fixture_bytes("fgt100f.csr"), enrollment=enrollment
    )
    services.revoke_certificate(cert, reason="keyCompromise", actor=admin)
    services.delete_enrollment(enrollment, actor=admin)
    services.delete_ca(imported, actor=admin)
    services.delete_ca(vendor, actor=admin)
    hold = services.issue_certificate(ca=root, subject=name("held"), public_key=ec_key.public_key())
    services.revoke_certificate(hold, reason="certificateHold")
    services.unrevoke_certificate(hold)

    rows = list(
        LogEntry.objects.order_by("id").values_list(
            "message", "level", "subcategory", "log_type_id", "user", "source_ip"
        )
    )
    cert_mgmt, admin_cfg, ip = "Certificate Management", "Admin Configuration", "192.0.2.10"
    serial = cert.serial_colons
    assert rows == [
        (
            "CA certificate 'CN=fac.cz.root' was successfully created",
            "information",
            cert_mgmt,
            30101,
            "admin",
            ip,
        ),
        (
            "Trusted CA certificate 'O=Vendor, CN=vendor.root' was successfully imported",
            "information",
            cert_mgmt,
            30102,
            "admin",
            ip,
        ),
        (
            "CA certificate 'C=CZ, O=Example, CN=openssl.root' was successfully imported",
            "information",
            cert_mgmt,
            30102,
            "admin",
            ip,
        ),
        (
            "CMP enrollment request 'fgt100f' was created",
            "information",
            admin_cfg,
            30301,
            "admin",
            ip,
        ),
        (
            "CMP enrollment request 'fgt100f' was modified",
            "information",
            admin_cfg,
            30302,
            "admin",
            ip,
        ),
        (
            'Certificate signing request "CN=fgt100f.local" signed with CA certificate "CN=fac.cz.root"',
            "information",
            cert_mgmt,
            30201,
            "system",
            None,
        ),
        (
            f'Certificate "CN=fgt100f.local" ({serial}) was revoked (reason: Key Compromise)',
            "warning",
            cert_mgmt,
            30203,
            "admin",
            ip,
        ),
        (
            "CMP enrollment request 'fgt100f' was deleted",
            "information",
            admin_cfg,
            30303,
            "admin",
            ip,
        ),
        (
            "CA certificate 'C=CZ, O=Example, CN=openssl.root' was deleted",
            "information",
            cert_mgmt,
            30103,
            "admin",
            ip,
        ),
        (
            "CA certificate 'O=Vendor, CN=vendor.root' was deleted",
            "information",
            cert_mgmt,
            30103,
            "admin",
            ip,
        ),
        (
            'Certificate signing request "CN=held" signed with CA certificate "CN=fac.cz.root"',
            "information",
            cert_mgmt,
            30201,
            "system",
            None,
        ),
        (
            f'Certificate "CN=held" ({hold.serial_colons}) was put on hold',
            "warning",
            cert_mgmt,
            30211,
            "system",
            None,
        ),
        (
            f'Certificate "CN=held" ({hold.serial_colons}) was released from hold',
            "information",
            cert_mgmt,
            30204,
            "system",
            None,
        ),
    ]
    # Newest first, as the Logs page lists them.
    assert LogEntry.objects.first().message.endswith("was released from hold")


def test_refusals_write_nothing(ec_root):
    before = LogEntry.objects.count()
    for call in (
        lambda: services.create_ca(name="fac.cz.root", subject="CN=x", key_type="ec"),
        lambda: services.create_enrollment(reference="x y", password="pw", ca=ec_root),
        lambda: services.revoke_ca(ec_root, reason="no"),
    ):
        with pytest.raises((services.ServiceError, services.InvalidInput)):
            call()
    assert LogEntry.objects.count() == before


def test_log_entry_truncates_long_fields():
    entry = LogEntry.objects.log("m" * 3000, user="u" * 200)
    assert (len(entry.message), len(entry.user)) == (2000, 150)
    assert str(entry).endswith(" information: " + "m" * 2000)


def test_entries_keep_their_parameters(ec_key):
    """LogEntry.params: what the line concerns, for the GUI's links; extras stay out of the text."""
    from certauth import events

    entry = events.log(
        events.CMP_REQUEST_FAILED,
        events.Actor(user="fgt100f", source_ip="192.0.2.7"),
        body_type="ir",
        sender="fgt100f",
        text="Enrollment not found.",
        failure="badMessageCheck",
        transaction_id="ab" * 16,
        empty="",
    )
    assert entry.message == "CMP ir from fgt100f failed: Enrollment not found. (badMessageCheck)"
    assert entry.params["transaction_id"] == "ab" * 16
    assert "empty" not in entry.params
    root = services.create_ca(name="params.root", subject="CN=params.root", key_type="ec")
    cert = services.issue_certificate(ca=root, subject=name("p1"), public_key=ec_key.public_key())
    signed = LogEntry.objects.filter(log_type_id=events.CERT_SIGNED.id).get()
    assert signed.message == (
        'Certificate signing request "CN=p1" signed with CA certificate "CN=params.root"'
    )
    assert signed.params == {
        "subject": "CN=p1",
        "ca": "CN=params.root",
        "serial": cert.serial_colons,
    }
