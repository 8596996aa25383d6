"""Forms of the administrator GUI (part A: login, CAs, certificates, CRLs).

Forms check what the administrator typed (required fields, SAN syntax, matching
passphrases); the rules themselves stay in certauth.services, whose
InvalidInput / ServiceError messages the views add back to the form.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class GroupedFieldsMixin:
    """``fieldsets = [(legend, [field names])]`` renders as <fieldset> groups."""

    fieldsets: list[tuple[str, list[str]]] = []

    def grouped_fields(self):
        return [
            (legend, [self[name] for name in names if name in self.fields])  # type: ignore[attr-defined]
            for legend, names in self.fieldsets
        ]


class StaffAuthenticationForm(AuthenticationForm):
    """Only staff accounts may use the GUI."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(
                "This account is not an administrator account.", code="not_staff"
            )
