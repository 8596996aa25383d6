"""Forms for CMP > Enrollment Requests.

The forms check what a person can fix in a field (a SAN written without its
type, an unparseable DN); the rules themselves stay in
``certauth.services``, whose refusals the views show as form errors.
"""

from __future__ import annotations

from typing import Any

from django import forms

from certauth import profiles, services
from certauth.gui.forms import form_field, start_on_default_ca
from certauth.models import Certificate, CertificateAuthority, Enrollment
from certauth.x509 import (
    EXT_KEY_USAGE_LABELS,
    KEY_USAGE_LABELS,
    InvalidInput,
    format_name,
    format_san,
    parse_name,
    parse_san,
)


class EnrollmentForm(forms.Form):
    """Create (``instance`` None) or edit an enrollment.

    The password is write-only: it is never rendered back, and left empty on
    edit it keeps the stored one.
    """

    reference = forms.CharField(
        label="Enrollment ID",
        max_length=128,
        help_text="The CMP reference (senderKID) the client sends; matched exactly.",
    )
    password = forms.CharField(
        label="Password",
        required=False,
        max_length=profiles.MAX_PASSWORD_LENGTH,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    ca = forms.ModelChoiceField(
        label="Certificate authority",
        queryset=CertificateAuthority.objects.none(),
        help_text="The local CA that signs the certificates of this enrollment.",
    )
    subject = forms.CharField(
        label="Required subject",
        max_length=1024,
        required=False,
        help_text="If set, the request's subject must be exactly this DN, e.g. CN=fw1,O=Example.",
    )
    allowed_sans = forms.CharField(
        label="Allowed SANs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: DNS:fw.example.com, IP:192.0.2.1, email:a@example.com, URI:...",
    )
    key_usage = forms.MultipleChoiceField(
        label="Key usage",
        required=False,
        choices=list(KEY_USAGE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    ext_key_usage = forms.MultipleChoiceField(
        label="Extended key usage",
        required=False,
        choices=list(EXT_KEY_USAGE_LABELS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    validity_days = forms.IntegerField(
        label="Certificate validity (days)",
        min_value=profiles.MIN_VALIDITY_DAYS,
        max_value=profiles.MAX_VALIDITY_DAYS,
        initial=profiles.DEFAULT_CERTIFICATE_DAYS,
    )
    renewable_days = forms.IntegerField(
        label="Renewable before expiry (days)",
        min_value=0,
        max_value=profiles.MAX_VALIDITY_DAYS,
        initial=0,
        help_text="Renewal is allowed this many days before expiry; 0 allows it any time.",
    )
    type = forms.ChoiceField(label="Type", choices=Enrollment.Type.choices)
    method = forms.ChoiceField(label="Method", choices=Enrollment.Method.choices)
    kind = forms.ChoiceField(label="Certificate category", choices=Certificate.Kind.choices)
    allow_reenrollment = forms.BooleanField(
        label="Allow re-enrollment",
        required=False,
        help_text="Allow a new ir while a certificate is active; the old one is revoked as superseded.",
    )
    allow_mac_kur = forms.BooleanField(
        label="Allow password-protected renewal",
        required=False,
        help_text="Accept key update requests protected with the enrollment password.",
    )
    accept_issued_signer = forms.BooleanField(
        label="Accept requests signed by certificates it issued",
        required=False,
        initial=True,
        help_text="A certificate of this enrollment may sign a request (CMP ir, cr) for a "
        "further certificate of it.",
    )
    trusted_ca = forms.ModelChoiceField(
        label="Trusted CA (device)",
        queryset=CertificateAuthority.objects.none(),
        required=False,
        help_text="Device enrollments: the trusted CA that vendor certificates chain to.",
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    fieldsets = [
        ("Enrollment", ["reference", "password", "type", "method", "enabled"]),
        (
            "Certificate",
            ["ca", "kind", "subject", "allowed_sans", "validity_days", "renewable_days"],
        ),
        ("Key usage", ["key_usage", "ext_key_usage"]),
        ("Renewal", ["allow_reenrollment", "allow_mac_kur", "accept_issued_signer"]),
        ("Device enrollment", ["trusted_ca"]),
    ]

    def __init__(self, *args, instance: Enrollment | None = None, **kwargs) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(*args, **kwargs)
        usable = CertificateAuthority.objects.usable()
        if instance is not None:
            # The current CA stays selectable even if it can no longer sign.
            usable = usable | CertificateAuthority.objects.filter(pk=instance.ca_id)
        form_field(self, "ca", forms.ModelChoiceField).queryset = usable.distinct().order_by("name")
        start_on_default_ca(self)
        form_field(
            self, "trusted_ca", forms.ModelChoiceField
        ).queryset = CertificateAuthority.objects.all().order_by("name")
        if instance is not None:
            self.fields["reference"].disabled = True
            self.fields["password"].help_text = (
                "Leave empty to keep the current password."
                if instance.has_password
                else "No password is set."
            )
        else:
            self.fields["password"].help_text = "Required for regular enrollments."

    @property
    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        """(legend, bound fields) for templates/includes/form.html."""
        return [(legend, [self[name] for name in names]) for legend, names in self.fieldsets]

    @staticmethod
    def initial_for(enrollment: Enrollment) -> dict:
        return {
            "reference": enrollment.reference,
            "ca": enrollment.ca_id,
            "subject": enrollment.subject,
            "allowed_sans": "\n".join(enrollment.allowed_sans),
            "key_usage": list(enrollment.key_usage),
            "ext_key_usage": list(enrollment.ext_key_usage),
            "validity_days": enrollment.validity_days,
            "renewable_days": enrollment.renewable_days,
            "type": enrollment.type,
            "method": enrollment.method,
            "kind": enrollment.kind,
            "allow_reenrollment": enrollment.allow_reenrollment,
            "allow_mac_kur": enrollment.allow_mac_kur,
            "accept_issued_signer": enrollment.accept_issued_signer,
            "trusted_ca": enrollment.trusted_ca_id,
            "enabled": enrollment.enabled,
        }

    def clean_subject(self) -> str:
        subject = self.cleaned_data["subject"].strip()
        if not subject:
            return ""
        try:
            return format_name(parse_name(subject))
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_allowed_sans(self) -> list[str]:
        sans: list[str] = []
        errors: list[str] = []
        for line in self.cleaned_data["allowed_sans"].splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                sans.append(format_san(parse_san(line)))
            except InvalidInput as exc:
                errors.append(str(exc))
        if errors:
            raise forms.ValidationError(errors)
        return list(dict.fromkeys(sans))

    def clean_key_usage(self) -> list[str]:
        return [name for name in KEY_USAGE_LABELS if name in self.cleaned_data["key_usage"]]

    def clean_ext_key_usage(self) -> list[str]:
        return [name for name in EXT_KEY_USAGE_LABELS if name in self.cleaned_data["ext_key_usage"]]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        # The rules are the service's: the form adds none of its own.
        password = data.get("password") or ""
        try:
            if self.instance is None:
                services.validate_enrollment(
                    reference=data["reference"], password=password, **self.service_arguments()
                )
            else:
                services.validate_enrollment_change(
                    self.instance, password=password or None, **self.service_arguments()
                )
        except InvalidInput as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, str(exc))
        return data

    def service_arguments(self) -> dict:
        """The cleaned values as keyword arguments for create/update_enrollment."""
        data = self.cleaned_data
        return {
            "ca": data["ca"],
            "subject": data["subject"],
            "allowed_sans": data["allowed_sans"],
            "key_usage": data["key_usage"],
            "ext_key_usage": data["ext_key_usage"],
            "validity_days": data["validity_days"],
            "renewable_days": data["renewable_days"],
            "type": data["type"],
            "method": data["method"],
            "kind": data["kind"],
            "allow_reenrollment": data["allow_reenrollment"],
            "allow_mac_kur": data["allow_mac_kur"],
            "accept_issued_signer": data["accept_issued_signer"],
            "trusted_ca": data["trusted_ca"],
            "enabled": data["enabled"],
        }
