"""Administrator logins: throttled against guessing and written to the event log.

:class:`ThrottledModelBackend` refuses, without checking the password, a login
for a user name or from an address that is locked out (certauth.throttle), so
the GUI's login page and the Django admin's are throttled alike. The signal
receivers log every login, failed login and logout with FortiAuthenticator's
wording, and count the failures.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, user_logged_in, user_logged_out, user_login_failed
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest

from certauth import events, throttle
from certauth.events import Actor

MAX_USERNAME = 150


def _address(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def keys(username: str, request: HttpRequest | None) -> list[str]:
    """The throttle keys of a login: the user name, and the source address."""
    found = [f"gui-user:{username[:MAX_USERNAME]}"]
    address = _address(request)
    if address:
        found.append(f"gui-ip:{address}")
    return found


def retry_after(username: str, request: HttpRequest | None) -> int | None:
    return throttle.retry_after(keys(username, request))


class ThrottledModelBackend(ModelBackend):
    """Django's model backend, refusing locked-out user names and addresses unchecked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and retry_after(str(username), request) is not None:
            raise PermissionDenied("Too many failed attempts.")
        return super().authenticate(request, username=username, password=password, **kwargs)


@receiver(user_login_failed)
def _login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    username = str(credentials.get("username") or "")[:MAX_USERNAME]
    if retry_after(username, request) is not None:
        return  # refused unchecked: the lockout was logged when it began
    actor = Actor(user=username, source_ip=_address(request))
    events.log(events.ADMIN_LOGIN_FAILED, actor, user=username, reason=_failure_reason(username))
    throttle.record_failure(keys(username, request), actor=actor)


def _failure_reason(username: str) -> str:
    """Why a login failed, for the event log (the login page says no more than that the
    user name or password is wrong): Django's backend refuses a disabled account
    without saying so, whatever the password."""
    user = (
        get_user_model()
        .objects.filter(**{get_user_model().USERNAME_FIELD: username})
        .only("is_active")
        .first()
    )
    if user is not None and not user.is_active:
        return "the account is disabled"
    return "wrong user name or password"


@receiver(user_logged_in)
def _logged_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    username = user.get_username()
    events.log(events.ADMIN_LOGIN, Actor(user=username, source_ip=_address(request)), user=username)
    throttle.record_success([f"gui-user:{username}"])


@receiver(user_logged_out)
def _logged_out(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if user is not None:
        username = user.get_username()
        events.log(
            events.ADMIN_LOGOUT, Actor(user=username, source_ip=_address(request)), user=username
        )
