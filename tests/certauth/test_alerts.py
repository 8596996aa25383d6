"""Expiry alerts (certauth.alerts): a warning per CA and certificate entering the window,
once; one summary e-mail; once a day from the housekeeping; System > Alerts settings."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from certauth import alerts, events, services
from certauth.models import AlertSettings, LogEntry
from certauth.x509 import InvalidInput
from tests.certauth.conftest import name

pytestmark = pytest.mark.django_db


def warnings() -> list[str]:
    return list(
        LogEntry.objects.filter(
            log_type_id__in=[events.CERT_EXPIRING.id, events.CA_EXPIRING.id]
        ).values_list("message", flat=True)
    )


def local_date(when: dt.datetime) -> str:
    return f"{timezone.localtime(when):%Y-%m-%d}"


@pytest.fixture
def issue(ec_root, ec_key):
    def _issue(cn: str, days: int):
        return services.issue_certificate(
            ca=ec_root, subject=name(cn), public_key=ec_key.public_key(), days=days
        )

    return _issue


def test_a_certificate_inside_the_window_is_warned_about_once(issue):
    cert = issue("soon.example.net", 20)
    later = issue("later.example.net", 200)
    now = timezone.now()
    report = alerts.run_if_due(now)
    assert report is not None and report.certificates == [cert]
    assert later not in report.certificates
    days = (cert.not_after - now).days
    assert warnings() == [
        f'Certificate "CN=soon.example.net" ({cert.serial_colons}) expires on '
        f"{local_date(cert.not_after)} (in {days} days)"
    ]
    entry = LogEntry.objects.get(log_type_id=events.CERT_EXPIRING.id)
    assert (entry.level, entry.user, entry.params["serial"]) == (
        "warning",
        "system",
        cert.serial_colons,
    )
    assert alerts.run_if_due(now + dt.timedelta(hours=1)) is None  # once a day
    assert alerts.run_if_due(now + dt.timedelta(days=1)).certificates == []  # warned already
    assert len(warnings()) == 1


def test_a_certificate_is_warned_about_the_day_it_enters_the_window(issue):
    cert = issue("forty.example.net", 40)
    now = timezone.now()
    assert alerts.run_if_due(now).count == 0
    assert alerts.run_if_due(now + dt.timedelta(days=5)).count == 0
    entered = alerts.run_if_due(now + dt.timedelta(days=11))
    assert entered.certificates == [cert]
    assert "(in 28 days)" in warnings()[0] or "(in 29 days)" in warnings()[0]
    assert alerts.run_if_due(now + dt.timedelta(days=12)).count == 0


def test_a_ca_and_a_shorter_window(ec_root):
    alerts.update_settings(email="", warning_days=5)
    short = services.create_ca(name="short", subject="CN=short", key_type="ec", days=4)
    services.create_ca(name="long", subject="CN=long", key_type="ec", days=30)
    report = alerts.run(everything=True)
    assert report.cas == [short] and report.certificates == []
    assert warnings() == [
        f"CA certificate 'CN=short' expires on {local_date(short.not_after)} (in 3 days)"
    ]


def test_one_summary_mail(settings, issue):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "fac-ca@example.net"
    alerts.update_settings(email="pki-team@example.net", warning_days=30)
    certs = [issue(f"fw{i}.example.net", 10 + i) for i in range(3)]
    report = alerts.run_if_due()
    assert report.sent and report.count == 3
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pki-team@example.net"] and message.from_email == "fac-ca@example.net"
    assert message.subject == "[fac-ca] 3 certificate(s) expire within 30 days"
    for cert in certs:
        assert cert.serial_colons in message.body
    assert LogEntry.objects.filter(
        message="Expiry alert sent to pki-team@example.net: 3 certificates expire within 30 days"
    ).exists()
    assert alerts.run_if_due() is None and len(mail.outbox) == 1


def test_no_mail_without_an_address_or_anything_to_say(settings, issue):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alerts.update_settings(email="pki-team@example.net", warning_days=30)
    issue("far.example.net", 300)
    assert not alerts.run_if_due().sent and mail.outbox == []


def test_smtp_trouble_is_logged_not_raised(settings, issue, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(alerts, "send_mail", refuse)
    alerts.update_settings(email="pki-team@example.net", warning_days=30)
    issue("soon.example.net", 10)
    report = alerts.run_if_due()
    assert not report.sent and "Connection refused" in report.error
    entry = LogEntry.objects.get(log_type_id=events.EXPIRY_ALERT_FAILED.id)
    assert entry.level == "error"
    assert entry.message.startswith("Expiry alert to pki-team@example.net could not be sent: ")


def test_settings_are_checked_and_logged():
    admin = events.Actor(user="admin", source_ip="192.0.2.10")
    with pytest.raises(InvalidInput, match="not an e-mail address"):
        alerts.update_settings(email="nobody", warning_days=30, actor=admin)
    with pytest.raises(InvalidInput, match="1 to 3650 days"):
        alerts.update_settings(email="", warning_days=0, actor=admin)
    _cfg, changes = alerts.update_settings(email=" ops@example.net ", warning_days=45, actor=admin)
    assert changes == [
        "alert e-mail address: none -> ops@example.net",
        "warning window (days): 30 -> 45",
    ]
    entry = LogEntry.objects.get(log_type_id=events.ALERT_SETTINGS_CHANGED.id)
    assert entry.message == "Alert settings changed: " + "; ".join(changes)
    assert entry.user == "admin"
    assert alerts.update_settings(email="ops@example.net", warning_days=45)[1] == []
    assert AlertSettings.load().warning_days == 45


def test_the_housekeeping_runs_them_once_a_day(issue):
    from cmp import services as cmp_services

    issue("soon.example.net", 10)
    cmp_services.sweep()
    cmp_services.sweep()
    assert len(warnings()) == 1
    assert AlertSettings.load().last_run is not None


def test_the_command(issue):
    issue("soon.example.net", 10)
    out = io.StringIO()
    call_command("expiry_alerts", "--if-due", stdout=out)
    assert out.getvalue().strip() == "0 CA(s) and 1 certificate(s) warned about"
    out = io.StringIO()
    call_command("expiry_alerts", "--if-due", stdout=out)
    assert out.getvalue().strip() == "Expiry alerts ran today already"
    out = io.StringIO()
    call_command("expiry_alerts", "--all", stdout=out)
    assert out.getvalue().strip() == "0 CA(s) and 1 certificate(s) warned about"
    assert len(warnings()) == 2
