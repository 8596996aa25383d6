"""Who may see and who may change, for every GUI page.

Every page needs a logged-in staff user. Read-only administrators (members of
the "Read-only administrators" group, or any staff user without the
``certauth.manage_pki`` permission) see everything and change nothing.
"""

from __future__ import annotations

from django.contrib.auth.mixins import AccessMixin
from django.http import HttpRequest, HttpResponseBase
from django.views import View

from certauth import services

READ_ONLY_GROUP = "Read-only administrators"
MANAGE_PERMISSION = "certauth.manage_pki"


def can_manage(user) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm(MANAGE_PERMISSION))


def actor(request: HttpRequest) -> services.Actor:
    return services.Actor(
        user=request.user.get_username(), source_ip=request.META.get("REMOTE_ADDR")
    )


class StaffRequiredMixin(AccessMixin, View):
    """Logged-in staff only; others go to the login page."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if not request.user.is_authenticated or not request.user.is_staff:
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)


class ManageRequiredMixin(StaffRequiredMixin):
    """Pages and actions that change data: refused (403) for read-only administrators."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.user.is_authenticated and request.user.is_staff and not can_manage(request.user):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)


def gui_context(request: HttpRequest) -> dict:
    """Template context processor: whether the user may change things."""
    return {"can_manage": can_manage(request.user)}
