"""The guessing throttle: CMP passwords and administrator logins, counted and locked out."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.test import Client

from certauth import services, throttle
from certauth.models import Certificate, LogEntry, Throttle
from cmp.protocol.errors import FailureInfo
from tests.cmp.protocol.client import Client as CMPClient
from tests.cmp.protocol.client import read_response

pytestmark = pytest.mark.django_db

SECRET = b"right-secret-1"


@pytest.fixture(autouse=True)
def _keystore_key(settings):
    settings.FAC_KEYSTORE_KEY = "throttle-tests-keystore-key"


@pytest.fixture
def enrollment():
    root = services.create_ca(name="root", subject="CN=root", key_type="ec")
    return services.create_enrollment(reference="fgt100f", password=SECRET.decode(), ca=root)


def ir(secret: bytes, reference: bytes = b"fgt100f", ip: str = "192.0.2.10"):
    cmp = CMPClient(
        secret=secret,
        sender_kid=reference,
        sender=x509.Name.from_rfc4514_string("CN=fgt100f.local"),
    )
    body = cmp.but(implicit_confirm=True).ir(ec.generate_private_key(ec.SECP256R1()))
    response = Client().post(
        "/app/cert/cmp2", data=body, content_type="application/pkixcmp", REMOTE_ADDR=ip
    )
    assert response.status_code == 200
    return read_response(response.content)


def test_wrong_passwords_lock_the_reference_and_the_right_one_is_refused_too(enrollment):
    for _ in range(throttle.MAX_FAILURES):
        assert ir(b"guess").failure_bits == (FailureInfo.badMessageCheck,)
    locked = ir(SECRET)
    assert locked.failure_bits == (FailureInfo.notAuthorized,)
    assert locked.status_text.startswith("Too many failed attempts; try again in ")
    assert not Certificate.objects.exists()
    lockouts = LogEntry.objects.filter(log_type_id=30604).values_list("message", flat=True)
    assert sorted(lockouts) == [
        "Too many failed attempts for enrollment 'fgt100f': locked out for 60 s",
        "Too many failed attempts for source address 192.0.2.10: locked out for 60 s",
    ]
    # Another address is still locked out of this enrollment; the lockout is logged once.
    assert ir(SECRET, ip="192.0.2.11").failure_bits == (FailureInfo.notAuthorized,)
    assert LogEntry.objects.filter(log_type_id=30604).count() == 2


def test_unknown_references_are_throttled_alike(enrollment):
    for i in range(throttle.MAX_FAILURES):
        error = ir(SECRET, reference=f"unknown-{i}".encode(), ip="198.51.100.3")
        assert error.status_text == "Enrollment not found."
    # The address guessed ten references: it is locked out, even for a good request.
    assert ir(SECRET, ip="198.51.100.3").failure_bits == (FailureInfo.notAuthorized,)
    assert ir(SECRET, ip="198.51.100.4").body_type == "ip"


def test_success_forgets_failures(enrollment):
    for _ in range(throttle.MAX_FAILURES - 1):
        ir(b"guess", ip="203.0.113.1")
    assert ir(SECRET, ip="203.0.113.2").body_type == "ip"
    assert not Throttle.objects.filter(key="cmp-ref:fgt100f").exists()


def test_lockouts_grow_and_can_be_cleared():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for lockout, seconds in ((1, 60), (2, 120), (3, 240)):
        for _ in range(throttle.MAX_FAILURES - 1):
            assert throttle.record_failure(["cmp-ref:x"], now=now) is None
        assert throttle.record_failure(["cmp-ref:x"], now=now) == seconds
        assert throttle.retry_after(["cmp-ref:x"], now=now) == seconds
        # Attempts while locked are not counted.
        assert throttle.record_failure(["cmp-ref:x"], now=now) is None
        now += dt.timedelta(seconds=seconds + 1)
        assert throttle.retry_after(["cmp-ref:x"], now=now) is None
        assert Throttle.objects.get(key="cmp-ref:x").lockouts == lockout
    for _ in range(throttle.MAX_FAILURES):
        throttle.record_failure(["cmp-ref:x"])
    assert throttle.retry_after(["cmp-ref:x"]) is not None
    assert throttle.clear("cmp-ref:x", actor=services.Actor(user="admin")) == 1
    assert throttle.retry_after(["cmp-ref:x"]) is None
    assert LogEntry.objects.order_by("-id").first().message == (
        "Lockout of enrollment 'x' was cleared"
    )


def test_lockout_is_capped():
    assert throttle._lockout(30) == throttle.LONGEST_LOCKOUT


# --- administrator logins -------------------------------------------------------------------


@pytest.fixture
def admin_user():
    return get_user_model().objects.create_user("alice", password="Alice-pw-123", is_staff=True)


def login(password: str, username: str = "alice", ip: str = "192.0.2.20"):
    return Client().post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_logins_are_logged(admin_user):
    assert login("wrong").status_code == 200
    response = login("Alice-pw-123")
    assert response.status_code == 302
    rows = list(
        LogEntry.objects.order_by("id").values_list("message", "user", "source_ip", "level")
    )
    assert rows == [
        (
            "Administrator login failed for 'alice': wrong user name or password",
            "alice",
            "192.0.2.20",
            "warning",
        ),
        ("Administrator 'alice' logged in successfully", "alice", "192.0.2.20", "information"),
    ]
    assert "Alice-pw-123" not in str(rows)


def test_logout_is_logged(admin_user):
    client = Client()
    client.post("/login/", {"username": "alice", "password": "Alice-pw-123"})
    client.post("/logout/")
    assert LogEntry.objects.order_by("-id").first().message == "Administrator 'alice' logged out"


def test_guessed_logins_are_locked_out(admin_user):
    for _ in range(throttle.MAX_FAILURES - 1):
        assert "Please enter a correct" in login("wrong").content.decode()
    last = login("wrong").content.decode()
    assert "Too many failed attempts; try again in 60 s." in last
    # The right password is refused while the lockout lasts, from any address.
    refused = login("Alice-pw-123", ip="192.0.2.99")
    assert refused.status_code == 200
    assert "Too many failed attempts; try again in" in refused.content.decode()
    assert not LogEntry.objects.filter(log_type_id=30601).exists()
    assert LogEntry.objects.filter(log_type_id=30604).count() == 2  # user and address
    # The Django admin's login is throttled as well.
    admin_login = Client().post(
        "/admin/login/", {"username": "alice", "password": "Alice-pw-123"}, REMOTE_ADDR="192.0.2.98"
    )
    assert admin_login.status_code == 200 and "_auth_user_id" not in admin_login.client.session
    # An administrator lifts it.
    throttle.clear("gui-user:alice")
    throttle.clear("gui-ip:192.0.2.20")
    assert login("Alice-pw-123").status_code == 302


def test_lockouts_command(admin_user):
    import io

    from django.core.management import call_command

    for _ in range(throttle.MAX_FAILURES):
        login("wrong")
    out = io.StringIO()
    call_command("lockouts", stdout=out)
    listed = out.getvalue()
    assert "gui-user:alice" in listed and "gui-ip:192.0.2.20" in listed
    out = io.StringIO()
    call_command("lockouts", "clear", "--all", stdout=out)
    assert out.getvalue().strip() == "Cleared 2 lockout(s)"
    assert throttle.retry_after(["gui-user:alice"]) is None


def test_a_disabled_account_is_named_in_the_log(admin_user):
    admin_user.is_active = False
    admin_user.save()
    response = login("Alice-pw-123")
    assert response.status_code == 200  # the form says no more than for a wrong password
    assert "disabled" not in response.content.decode()
    assert list(LogEntry.objects.values_list("message", flat=True)) == [
        "Administrator login failed for 'alice': the account is disabled"
    ]
    login("wrong", username="nobody")
    assert LogEntry.objects.order_by("-id").first().message == (
        "Administrator login failed for 'nobody': wrong user name or password"
    )
