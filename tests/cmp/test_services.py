"""CMP settings and housekeeping (cmp.services), on the test database."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from certauth import services as ca_services
from certauth import x509 as x509util
from certauth.events import Actor
from certauth.models import Certificate, LogEntry
from cmp import services
from cmp.models import CMPConfig, CMPTrace, CMPTransaction

pytestmark = pytest.mark.django_db


def test_config_is_one_row_with_settings_defaults(settings) -> None:
    settings.FAC_CMP_CONFIRM_WAIT = 123
    config = services.config()
    assert (config.pk, config.enabled, config.debug, config.confirm_wait) == (1, True, False, 123)
    assert services.config().pk == 1
    assert CMPConfig.objects.count() == 1


def test_set_debug_logs_only_changes() -> None:
    services.set_debug(True, actor=Actor(user="admin", source_ip="192.0.2.7"))
    services.set_debug(True, actor=Actor(user="admin"))
    services.set_debug(False, actor=Actor(user="admin"))
    assert services.config().debug is False
    messages = list(LogEntry.objects.order_by("id").values_list("message", "user", "source_ip"))
    assert messages == [
        ("CMP debug mode enabled", "admin", "192.0.2.7"),
        ("CMP debug mode disabled", "admin", None),
    ]


def test_traces_roll_off(settings) -> None:
    settings.FAC_CMP_TRACE_LIMIT = 3
    for i in range(5):
        services.record_trace(lines=f"trace {i}", request_der=b"\x30\x00", body_type="ir")
    assert list(CMPTrace.objects.order_by("id").values_list("lines", flat=True)) == [
        "trace 2",
        "trace 3",
        "trace 4",
    ]


def test_sweep_revokes_unconfirmed_and_closes_transaction() -> None:
    ca = ca_services.create_ca(name="sweep.root", subject="CN=sweep.root", key_type="ec")
    key = ec.generate_private_key(ec.SECP256R1())
    pending = ca_services.issue_certificate(
        ca=ca,
        subject=x509util.parse_name("CN=pending"),
        public_key=key.public_key(),
        status=Certificate.Status.PENDING,
    )
    fresh = ca_services.issue_certificate(
        ca=ca,
        subject=x509util.parse_name("CN=fresh"),
        public_key=key.public_key(),
        status=Certificate.Status.PENDING,
    )
    Certificate.objects.filter(pk=pending.pk).update(
        created=timezone.now() - dt.timedelta(seconds=301)
    )
    CMPTransaction.objects.create(
        transaction_id="aa" * 16,
        body_type="ir",
        state=CMPTransaction.State.WAITING_CONFIRM,
        server_nonce="bb" * 16,
        certificate=pending,
    )
    assert services.sweep() == 1
    pending.refresh_from_db()
    fresh.refresh_from_db()
    assert (pending.status, fresh.status) == ("revoked", "pending")
    assert CMPTransaction.objects.get().state == CMPTransaction.State.EXPIRED
    assert LogEntry.objects.filter(
        message=f'Certificate "CN=pending" ({pending.serial_colons}) was revoked: '
        "the client did not confirm it in time"
    ).exists()


def test_due_crls_are_refreshed_by_the_sweep() -> None:
    ca = ca_services.create_ca(name="crl.root", subject="CN=crl.root", key_type="ec")
    assert ca.crl_der is None
    services.sweep()
    ca.refresh_from_db()
    first_number = ca.crl_number
    assert ca.crl_der and first_number == 1
    services.sweep()  # fresh: not re-signed
    ca.refresh_from_db()
    assert ca.crl_number == first_number
    type(ca).objects.filter(pk=ca.pk).update(crl_next_update=timezone.now() + dt.timedelta(hours=1))
    services.sweep()
    ca.refresh_from_db()
    assert ca.crl_number == first_number + 1
    assert ca.crl_next_update > timezone.now() + dt.timedelta(hours=23)
    assert (
        LogEntry.objects.filter(
            message="CRL for CA certificate 'CN=crl.root' was generated (0 revoked)"
        ).count()
        == 2
    )


def test_traces_are_bounded_in_bytes(settings) -> None:
    settings.FAC_TRACE_BODY_BYTES = 1000
    settings.FAC_TRACE_BYTES = 5000
    big = services.record_trace(lines="big", request_der=b"\x30" * 5000, body_type="ir")
    big.refresh_from_db()
    assert len(bytes(big.request_der)) == 1000
    assert "request of 5000 bytes stored as its first 1000" in big.lines
    for i in range(6):
        services.record_trace(lines=f"t{i}", request_der=b"\x30" * 900, body_type="ir")
    kept = list(CMPTrace.objects.order_by("id").values_list("lines", flat=True))
    # The newest traces within 5000 bytes; the oldest rolled off.
    assert kept == ["t1", "t2", "t3", "t4", "t5"]
    total = sum(len(bytes(t.request_der)) + len(t.lines) for t in CMPTrace.objects.all())
    assert total <= 5000


def test_config_and_throttle_in_one_statement() -> None:
    """The CMP endpoint reads the settings' version with the throttle's rows; a
    change another worker saved (here without this process's save signal) is
    seen by the next read, and the throttle's answer is :func:`throttle.status`'s."""
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from certauth import throttle

    services.config()  # the settings row, created
    services.config()  # and cached with its version
    keys = ["cmp-ip:192.0.2.7", "cmp-ref:dev1"]
    services.config_and_throttle(keys)  # the local CAs (none), read for their version
    with CaptureQueriesContext(connection) as captured:
        config, wait, tracked, _cas = services.config_and_throttle(keys)
    assert len(captured.captured_queries) == 1
    assert config.enabled and wait is None and tracked == frozenset()

    throttle.record_failure(keys[1:])
    CMPConfig.objects.filter(pk=1).update(
        enabled=False, updated=timezone.now() + dt.timedelta(seconds=1)
    )
    config, wait, tracked, _cas = services.config_and_throttle(keys)
    assert not config.enabled
    assert (wait, tracked) == throttle.status(keys) == (None, frozenset(keys[1:]))
    for _ in range(throttle.MAX_FAILURES):
        throttle.record_failure(keys[:1])
    config, wait, tracked, _cas = services.config_and_throttle(keys)
    assert wait is not None and 50 <= wait <= 60
    assert tracked == frozenset(keys)
    assert services.config_and_throttle(keys[:1])[1:3] == throttle.status(keys[:1])


def test_the_local_cas_are_read_again_when_the_ca_table_changes() -> None:
    """The CA table's version comes with the settings and the throttle (no query of
    its own); the CAs are read once per version, and any save, new CA or deletion
    (here without this process's signals) gives a new one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from certauth.models import CertificateAuthority

    keys = ["cmp-ip:192.0.2.7"]
    services.config()  # the settings row, created
    services.config()  # and cached with its version
    older = ca_services.create_ca(name="older", subject="CN=older", key_type="ec")
    first = services.config_and_throttle(keys).cas
    assert first is not None
    now = timezone.now()
    assert first.oldest_usable(now).pk == older.pk
    with CaptureQueriesContext(connection) as captured:
        again = services.config_and_throttle(keys).cas
        assert again is first  # the same version: not read again
        assert again.usable_named(older.certificate.subject, now).pk == older.pk
    assert len(captured.captured_queries) == 1

    newer = ca_services.create_ca(name="newer", subject="CN=newer", key_type="ec")
    cas = services.config_and_throttle(keys).cas
    assert cas is not first and [ca.pk for ca in cas.usable(now)] == [older.pk, newer.pk]
    # Revoked elsewhere: no longer usable, the next one answers.
    CertificateAuthority.objects.filter(pk=older.pk).update(
        revoked_at=now, updated=timezone.now() + dt.timedelta(seconds=1)
    )
    cas = services.config_and_throttle(keys).cas
    assert cas.oldest_usable(timezone.now()).pk == newer.pk
    assert cas.usable_named(older.certificate.subject, timezone.now()) is None
    # Deleted elsewhere (the count changes even where the latest "updated" does not).
    CertificateAuthority.objects.filter(pk=older.pk).delete()
    cas = services.config_and_throttle(keys).cas
    assert cas.get(older.pk) is None and cas.get(newer.pk).pk == newer.pk
    # The same answers as the queries: CertificateAuthority.is_usable is usable().
    assert [ca.pk for ca in cas.usable(timezone.now())] == list(
        CertificateAuthority.objects.usable().order_by("created").values_list("pk", flat=True)
    )
