"""Forms of System > Administrators, Change Password and System > Alerts.

They check what was typed (required fields, the two passwords alike); the rules
(user names, password validators, the last Administrator, the warning window)
are certauth.admins' and certauth.alerts', whose InvalidInput the views put
next to the field it names.
"""

from __future__ import annotations

from django import forms

from certauth import admins

ROLE_CHOICES = list(admins.ROLES.items())
ROLE_HELP = (
    "Administrator: every page and action. Read-only administrator: sees every page, "
    "changes nothing."
)


def _password(label: str, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        **kwargs,
    )


class _TwoPasswordsMixin(forms.Form):
    """``password`` and ``password_again`` must be the same."""

    first, second = "password", "password_again"

    def clean(self):
        data = super().clean() or {}
        one, two = data.get(self.first), data.get(self.second)
        if one and two and one != two:
            self.add_error(self.second, "The two passwords are not the same.")
        return data


class AdministratorCreateForm(_TwoPasswordsMixin, forms.Form):
    username = forms.CharField(
        label="User name",
        max_length=admins.MAX_USERNAME,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    email = forms.EmailField(label="E-mail address", required=False)
    role = forms.ChoiceField(
        label="Role", choices=ROLE_CHOICES, initial=admins.ADMINISTRATOR, help_text=ROLE_HELP
    )
    password = _password("Password")
    password_again = _password("Confirm password")


class AdministratorEditForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES, help_text=ROLE_HELP)
    enabled = forms.BooleanField(
        label="Enabled",
        required=False,
        help_text="A disabled administrator cannot log in; their open sessions end.",
    )


class PasswordResetForm(_TwoPasswordsMixin, forms.Form):
    password = _password("New password")
    password_again = _password("Confirm password")


class OwnPasswordForm(_TwoPasswordsMixin, forms.Form):
    first, second = "new_password", "new_password_again"

    old_password = forms.CharField(
        label="Current password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    new_password = _password("New password")
    new_password_again = _password("Confirm password")


class AlertSettingsForm(forms.Form):
    email = forms.CharField(
        label="Alert e-mail address",
        required=False,
        max_length=254,
        help_text="One summary a day of what enters the window. Empty: warnings go to the "
        "event log only.",
    )
    warning_days = forms.IntegerField(
        label="Warning window (days)",
        help_text="A CA or certificate is warned about once, when it comes this close to "
        "its expiry.",
    )


class AlertRunForm(forms.Form):
    everything = forms.BooleanField(
        label="Also what was warned about before",
        required=False,
        help_text="Off: only what entered the window since the last run.",
    )
