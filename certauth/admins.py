"""Administrators of the GUI: their accounts, roles and passwords (System > Administrators).

Every administrator is a Django staff user with one of two roles:
**Administrator** (member of the "Administrators" group, which carries
``certauth.manage_pki``; superusers count as administrators) or **Read-only
administrator** (member of "Read-only administrators": sees everything,
changes nothing). Each change is written to the event log. Two rules keep the
product manageable: an administrator cannot disable or demote their own
account, and the last active Administrator stays one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from certauth import events
from certauth.events import SYSTEM, Actor
from certauth.x509 import InvalidInput

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ADMINISTRATOR = "administrator"
READ_ONLY = "read-only"
ROLES = {ADMINISTRATOR: "Administrator", READ_ONLY: "Read-only administrator"}
ADMIN_GROUP = "Administrators"
READ_ONLY_GROUP = "Read-only administrators"
MANAGE_CODENAME = "manage_pki"
MAX_USERNAME = 150


def administrators() -> QuerySet[User]:
    """Every staff account, enabled or not."""
    return (
        get_user_model()
        .objects.filter(is_staff=True)
        .prefetch_related("groups")
        .order_by("username")
    )


def manages(user: User) -> bool:
    """Whether *user*'s role is Administrator, from the stored role (enabled or not)."""
    if user.is_superuser:
        return True
    return Permission.objects.filter(
        Q(user=user) | Q(group__user=user),
        codename=MANAGE_CODENAME,
        content_type__app_label="certauth",
    ).exists()


def role_of(user: User) -> str:
    return ADMINISTRATOR if manages(user) else READ_ONLY


def listing() -> list[tuple[User, str]]:
    """Every administrator with their role, in two queries (System > Administrators)."""
    model = get_user_model()
    manage = Permission.objects.filter(codename=MANAGE_CODENAME, content_type__app_label="certauth")
    users = model.objects.filter(is_staff=True).order_by("username")
    by_group = set(
        model.groups.through.objects.filter(
            user__in=users, group__permissions__in=manage
        ).values_list("user_id", flat=True)
    )
    by_user = set(
        model.user_permissions.through.objects.filter(
            user__in=users, permission__in=manage
        ).values_list("user_id", flat=True)
    )
    return [
        (
            user,
            ADMINISTRATOR
            if user.is_superuser or user.pk in by_group or user.pk in by_user
            else READ_ONLY,
        )
        for user in users
    ]


def _group(name: str) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    if created and name == ADMIN_GROUP:
        # Normally made by migration 0009; a flushed test database lacks it.
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="certauth", codename=MANAGE_CODENAME)
        )
    return group


def _check_password(password: str, user: User | None) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from None


def _other_active_administrators(user: User) -> bool:
    others = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(pk=user.pk)
    return any(manages(other) for other in others)


def _apply_role(user: User, role: str) -> None:
    admin_group, read_only_group = _group(ADMIN_GROUP), _group(READ_ONLY_GROUP)
    if role == ADMINISTRATOR:
        user.groups.remove(read_only_group)
        user.groups.add(admin_group)
    else:
        user.groups.remove(admin_group)
        user.groups.add(read_only_group)
        # A read-only administrator holds no change permission of their own.
        user.user_permissions.remove(
            *Permission.objects.filter(content_type__app_label="certauth", codename=MANAGE_CODENAME)
        )


def create_administrator(
    *, username: str, password: str, role: str, email: str = "", actor: Actor = SYSTEM
) -> User:
    """A new enabled staff account with *role*; the password must pass Django's validators."""
    model = get_user_model()
    username = username.strip()
    if role not in ROLES:
        raise InvalidInput(
            "Choose the role Administrator or Read-only administrator.", field="role"
        )
    if not username or len(username) > MAX_USERNAME:
        raise InvalidInput(f"A user name has 1 to {MAX_USERNAME} characters.", field="username")
    try:
        model.username_validator(username)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="username") from None
    if model.objects.filter(username__iexact=username).exists():
        raise InvalidInput(f"An account named {username} exists already.", field="username")
    candidate = model(username=username, email=email)
    _check_password(password, candidate)
    with transaction.atomic():
        user = model.objects.create_user(username, email, password, is_staff=True)
        _apply_role(user, role)
        events.log(events.ADMIN_CREATED, actor, name=username, role=ROLES[role])
    return user


def set_role(
    user: User, role: str, *, actor: Actor = SYSTEM, acting_user: User | None = None
) -> bool:
    """Give *user* *role*; returns whether it changed."""
    if role not in ROLES:
        raise InvalidInput(
            "Choose the role Administrator or Read-only administrator.", field="role"
        )
    with transaction.atomic():
        old = role_of(user)
        if old == role:
            return False
        if role == READ_ONLY:
            if acting_user is not None and acting_user.pk == user.pk:
                raise InvalidInput("You cannot make your own account read-only.", field="role")
            if user.is_active and not _other_active_administrators(user):
                raise InvalidInput(
                    f"{user.get_username()} is the last active Administrator.", field="role"
                )
            if user.is_superuser:
                user.is_superuser = False
                user.save(update_fields=["is_superuser"])
        _apply_role(user, role)
        events.log(
            events.ADMIN_ROLE_CHANGED,
            actor,
            name=user.get_username(),
            old=ROLES[old],
            new=ROLES[role],
        )
    return True


def set_active(
    user: User, active: bool, *, actor: Actor = SYSTEM, acting_user: User | None = None
) -> bool:
    """Enable or disable *user* (a disabled account cannot log in, its sessions end)."""
    with transaction.atomic():
        if user.is_active == active:
            return False
        if not active:
            if acting_user is not None and acting_user.pk == user.pk:
                raise InvalidInput("You cannot disable your own account.", field="enabled")
            if manages(user) and not _other_active_administrators(user):
                raise InvalidInput(
                    f"{user.get_username()} is the last active Administrator.", field="enabled"
                )
        user.is_active = active
        user.save(update_fields=["is_active"])
        events.log(
            events.ADMIN_ENABLED if active else events.ADMIN_DISABLED,
            actor,
            name=user.get_username(),
        )
    return True


def update_administrator(
    user: User,
    *,
    role: str,
    active: bool,
    actor: Actor = SYSTEM,
    acting_user: User | None = None,
) -> list[str]:
    """Set *user*'s role and whether the account is enabled, both or neither;
    returns what changed ("role", "enabled")."""
    changed = []
    with transaction.atomic():
        if set_role(user, role, actor=actor, acting_user=acting_user):
            changed.append("role")
        if set_active(user, active, actor=actor, acting_user=acting_user):
            changed.append("enabled")
    return changed


def reset_password(
    user: User, password: str, *, actor: Actor = SYSTEM, acting_user: User | None = None
) -> None:
    """Another administrator sets *user*'s password (their open sessions end)."""
    if acting_user is not None and acting_user.pk == user.pk:
        raise InvalidInput(
            "Change your own password with Change Password, giving the current one.",
            field="password",
        )
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    events.log(events.ADMIN_PASSWORD_RESET, actor, name=user.get_username())


def change_own_password(
    user: User, *, old_password: str, new_password: str, actor: Actor = SYSTEM
) -> None:
    """*user* changes their own password, giving the current one."""
    if not user.check_password(old_password):
        raise InvalidInput("The current password is not correct.", field="old_password")
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="new_password") from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    events.log(events.ADMIN_PASSWORD_CHANGED, actor, name=user.get_username())
