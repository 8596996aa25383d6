"""Administrators (certauth.admins): roles through groups, the rules that keep the product
manageable (own account, last active Administrator), passwords, and the event-log wording."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from certauth import admins, events
from certauth.events import Actor
from certauth.gui.access import can_manage
from certauth.models import LogEntry
from certauth.x509 import InvalidInput

pytestmark = pytest.mark.django_db

PASSWORD = "Adm1n-strong-passphrase"
OTHER_PASSWORD = "An0ther-strong-passphrase"
ALICE = Actor(user="alice", source_ip="192.0.2.7")


def admin_lines() -> list[str]:
    return list(
        LogEntry.objects.filter(log_type_id__gte=30606, log_type_id__lte=30611)
        .order_by("id")
        .values_list("message", flat=True)
    )


def fresh(user):
    """The user as the next request sees them (permission caches dropped)."""
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def alice():
    return admins.create_administrator(
        username="alice", password=PASSWORD, role=admins.ADMINISTRATOR, email="alice@example.com"
    )


@pytest.fixture
def bob(alice):
    return admins.create_administrator(
        username="bob", password=PASSWORD, role=admins.ADMINISTRATOR, actor=ALICE
    )


@pytest.fixture
def carol(alice):
    return admins.create_administrator(
        username="carol", password=PASSWORD, role=admins.READ_ONLY, actor=ALICE
    )


# --- Creating ------------------------------------------------------------------------------


def test_an_administrator_may_change_things(alice):
    alice = fresh(alice)
    assert alice.is_staff and alice.is_active and not alice.is_superuser
    assert alice.check_password(PASSWORD) and alice.email == "alice@example.com"
    assert admins.role_of(alice) == admins.ADMINISTRATOR
    assert alice.has_perm("certauth.manage_pki") and can_manage(alice)
    assert [g.name for g in alice.groups.all()] == [admins.ADMIN_GROUP]


def test_a_read_only_administrator_holds_no_change_permission(carol):
    carol = fresh(carol)
    assert carol.is_staff and admins.role_of(carol) == admins.READ_ONLY
    assert not carol.has_perm("certauth.manage_pki") and not can_manage(carol)
    assert [g.name for g in carol.groups.all()] == [admins.READ_ONLY_GROUP]
    # Seeing is all the role allows (the Django admin's view permissions at most).
    assert all(".view_" in perm for perm in carol.get_all_permissions())


def test_creation_is_logged_with_the_role_and_the_actor(carol):
    assert admin_lines() == [
        "Administrator 'alice' was created (Administrator)",
        "Administrator 'carol' was created (Read-only administrator)",
    ]
    entry = LogEntry.objects.get(message__contains="'carol' was created")
    assert (entry.user, entry.source_ip, entry.level, entry.subcategory) == (
        "alice",
        "192.0.2.7",
        "information",
        events.SUB_ADMIN,
    )


@pytest.mark.parametrize(
    ("username", "password", "role", "field", "message"),
    [
        ("", PASSWORD, admins.ADMINISTRATOR, "username", "A user name has 1 to 150 characters."),
        ("a" * 151, PASSWORD, admins.ADMINISTRATOR, "username", "1 to 150 characters"),
        ("bad name", PASSWORD, admins.ADMINISTRATOR, "username", "Enter a valid username"),
        ("ALICE", PASSWORD, admins.ADMINISTRATOR, "username", "An account named ALICE exists"),
        ("dave", "short", admins.ADMINISTRATOR, "password", "too short"),
        ("dave", "password123", admins.ADMINISTRATOR, "password", "too common"),
        ("dave", PASSWORD, "superuser", "role", "Choose the role Administrator"),
    ],
)
def test_bad_input_names_its_field(alice, username, password, role, field, message):
    with pytest.raises(InvalidInput) as caught:
        admins.create_administrator(username=username, password=password, role=role)
    assert caught.value.field == field and message in str(caught.value)
    assert not get_user_model().objects.filter(username="dave").exists()


def test_listing_gives_each_role_in_three_queries(alice, bob, carol, django_assert_num_queries):
    superuser = get_user_model().objects.create_superuser("root", "", PASSWORD)
    get_user_model().objects.create_user("customer", password=PASSWORD)  # not staff: not listed
    with django_assert_num_queries(3):
        rows = [(user.username, role) for user, role in admins.listing()]
    assert rows == [
        ("alice", admins.ADMINISTRATOR),
        ("bob", admins.ADMINISTRATOR),
        ("carol", admins.READ_ONLY),
        ("root", admins.ADMINISTRATOR),
    ]
    assert all(role == admins.role_of(user) for user, role in admins.listing())
    assert admins.role_of(superuser) == admins.ADMINISTRATOR


# --- Roles ----------------------------------------------------------------------------------


def test_demotion_takes_the_permission_away_and_is_logged(alice, bob):
    assert admins.set_role(bob, admins.READ_ONLY, actor=ALICE, acting_user=alice)
    bob = fresh(bob)
    assert admins.role_of(bob) == admins.READ_ONLY and not can_manage(bob)
    assert admin_lines()[-1] == (
        "Role of administrator 'bob' was changed from Administrator to Read-only administrator"
    )
    assert not admins.set_role(bob, admins.READ_ONLY, actor=ALICE)  # no change, no line
    assert admins.set_role(bob, admins.ADMINISTRATOR, actor=ALICE)
    assert can_manage(fresh(bob))
    assert admin_lines()[-1] == (
        "Role of administrator 'bob' was changed from Read-only administrator to Administrator"
    )


def test_a_demoted_superuser_stops_being_one(alice):
    root = get_user_model().objects.create_superuser("root", "", PASSWORD)
    admins.set_role(root, admins.READ_ONLY, acting_user=alice)
    root = fresh(root)
    assert not root.is_superuser and not can_manage(root)


def test_nobody_makes_their_own_account_read_only(alice, bob):
    with pytest.raises(InvalidInput, match="your own account read-only") as caught:
        admins.set_role(bob, admins.READ_ONLY, acting_user=bob)
    assert caught.value.field == "role"
    assert admins.role_of(fresh(bob)) == admins.ADMINISTRATOR


def test_the_last_active_administrator_stays_one(alice, carol):
    with pytest.raises(InvalidInput, match="alice is the last active Administrator") as caught:
        admins.set_role(alice, admins.READ_ONLY, acting_user=carol)
    assert caught.value.field == "role"
    with pytest.raises(InvalidInput, match="alice is the last active Administrator") as caught:
        admins.set_active(alice, False, acting_user=carol)
    assert caught.value.field == "enabled"
    assert fresh(alice).is_active and admins.role_of(fresh(alice)) == admins.ADMINISTRATOR


def test_a_disabled_administrator_does_not_count_as_the_other_one(alice, bob):
    admins.set_active(bob, False, acting_user=alice)
    with pytest.raises(InvalidInput, match="last active Administrator"):
        admins.set_role(alice, admins.READ_ONLY)
    # A disabled Administrator may be demoted: the product stays manageable by alice.
    assert admins.set_role(bob, admins.READ_ONLY, acting_user=alice)


# --- Enabled and disabled --------------------------------------------------------------------


def test_disabling_is_logged_and_ends_login_and_sessions(alice, bob):
    session = Client()
    session.force_login(bob)
    assert session.get("/").status_code == 200
    assert admins.set_active(bob, False, actor=ALICE, acting_user=alice)
    assert admin_lines()[-1] == "Administrator 'bob' was disabled"
    assert LogEntry.objects.order_by("-id").first().level == "warning"
    # The open session ends at its next request; a new login is refused.
    response = session.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    login = Client().post("/login/", {"username": "bob", "password": PASSWORD})
    assert login.status_code == 200 and b"errorlist" in login.content
    assert admins.set_active(bob, True, actor=ALICE)
    assert admin_lines()[-1] == "Administrator 'bob' was enabled"
    assert Client().post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 302


def test_nobody_disables_their_own_account(alice, bob):
    with pytest.raises(InvalidInput, match="cannot disable your own account"):
        admins.set_active(bob, False, acting_user=bob)
    assert fresh(bob).is_active


def test_role_and_status_change_together_or_not_at_all(alice, carol):
    # carol promotes herself (allowed by set_role) but cannot disable herself: neither happens.
    before = admin_lines()
    with pytest.raises(InvalidInput, match="cannot disable your own account"):
        admins.update_administrator(
            carol, role=admins.ADMINISTRATOR, active=False, acting_user=carol
        )
    assert admins.role_of(fresh(carol)) == admins.READ_ONLY and fresh(carol).is_active
    assert admin_lines() == before
    changed = admins.update_administrator(
        carol, role=admins.ADMINISTRATOR, active=False, acting_user=alice
    )
    assert changed == ["role", "enabled"]
    assert (
        admins.update_administrator(
            fresh(carol), role=admins.ADMINISTRATOR, active=False, acting_user=alice
        )
        == []
    )


# --- Passwords -------------------------------------------------------------------------------


def test_a_reset_password_is_checked_logged_and_never_written(alice, bob):
    with pytest.raises(InvalidInput, match="too short") as caught:
        admins.reset_password(bob, "short", acting_user=alice)
    assert caught.value.field == "password"
    admins.reset_password(bob, OTHER_PASSWORD, actor=ALICE, acting_user=alice)
    assert fresh(bob).check_password(OTHER_PASSWORD)
    assert admin_lines()[-1] == "Password of administrator 'bob' was reset"
    assert not LogEntry.objects.filter(message__contains=OTHER_PASSWORD).exists()
    assert not any(OTHER_PASSWORD in str(params) for params in LogEntry.objects.values("params"))


def test_ones_own_password_is_changed_not_reset(alice):
    with pytest.raises(InvalidInput, match="Change Password") as caught:
        admins.reset_password(alice, OTHER_PASSWORD, acting_user=alice)
    assert caught.value.field == "password"
    assert fresh(alice).check_password(PASSWORD)


def test_changing_ones_own_password_needs_the_current_one(alice):
    with pytest.raises(InvalidInput, match="current password is not correct") as caught:
        admins.change_own_password(alice, old_password="wrong", new_password=OTHER_PASSWORD)
    assert caught.value.field == "old_password"
    with pytest.raises(InvalidInput, match="too similar to the username|too short") as caught:
        admins.change_own_password(alice, old_password=PASSWORD, new_password="alice")
    assert caught.value.field == "new_password"
    admins.change_own_password(
        alice, old_password=PASSWORD, new_password=OTHER_PASSWORD, actor=ALICE
    )
    assert fresh(alice).check_password(OTHER_PASSWORD)
    entry = LogEntry.objects.order_by("-id").first()
    assert (entry.message, entry.subcategory, entry.user) == (
        "Administrator 'alice' changed their password",
        "Authentication",
        "alice",
    )
