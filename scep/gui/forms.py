"""Forms of Certificate Management > SCEP: General, and the SCEP enrollment requests.

The forms check what a person can fix in a field; the rules themselves stay in
``scep.services`` (the settings) and ``certauth.services`` (enrollments), whose
refusals the views show as form errors.
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
from scep import services as scep_services
from scep.models import SCEPConfig

METHOD_CHOICES = [
    (Enrollment.Method.AUTOMATIC, "Automatic"),
    (Enrollment.Method.MANUAL, "Manual and Automatic"),
]
LEGACY_HELP = (
    "Accept SHA-1 signatures and 3DES encryption from clients that predate SHA-2 and AES, "
    "and announce them in GetCACaps."
)
SINGLE_DES_HELP = (
    "With the legacy algorithms: also accept single DES. Debian's <span class='mono'>"
    "scepclient</span> 2.1.0 always signs with SHA-1 and encrypts with DES whatever "
    "GetCACaps says: it needs both settings. Single DES is broken; turn it on only for such clients."
)


class SCEPSettingsForm(forms.Form):
    enabled = forms.BooleanField(
        label="Enable SCEP",
        required=False,
        help_text="When off, the SCEP paths answer 503.",
    )
    default_ca = forms.ModelChoiceField(
        label="Default CA",
        required=False,
        queryset=CertificateAuthority.objects.none(),
        empty_label="(the oldest local CA)",
        help_text="The CA GetCACert returns when the client names none (or names no CA of "
        "ours). An ECDSA CA answers through an RSA RA certificate, made on first use.",
    )
    default_password = forms.CharField(
        label="Default enrollment password",
        required=False,
        max_length=profiles.MAX_PASSWORD_LENGTH,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_password = forms.BooleanField(
        label="Remove the default enrollment password", required=False
    )
    method = forms.ChoiceField(
        label="Enrollment method",
        choices=METHOD_CHOICES,
        help_text="What new SCEP enrollment requests get: <strong>Automatic</strong> issues "
        "at once; <strong>Manual and Automatic</strong> holds each request for approval on "
        "Pending Requests while the device polls.",
    )
    revoke_renewed = forms.BooleanField(
        label="Revoke the old certificate on renewal",
        required=False,
        help_text="After a RenewalReq, revoke the renewed certificate as superseded "
        "(otherwise it stays valid until it expires).",
    )
    legacy_algorithms = forms.BooleanField(
        label="Allow legacy algorithms (3DES, SHA-1)", required=False, help_text=LEGACY_HELP
    )
    single_des = forms.BooleanField(
        label="Allow single DES (very old clients)", required=False, help_text=SINGLE_DES_HELP
    )

    def __init__(self, *args: Any, config: SCEPConfig, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = CertificateAuthority.objects.usable()
        if config.default_ca_id:
            queryset = queryset | CertificateAuthority.objects.filter(pk=config.default_ca_id)
        form_field(
            self, "default_ca", forms.ModelChoiceField
        ).queryset = queryset.distinct().order_by("name")
        self.fields["default_password"].help_text = (
            "Set: leave empty to keep it. " if config.has_password else "Not set. "
        ) + (
            "Offered as the challenge password of new enrollment requests. Write-only: "
            "it is never shown again."
        )

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {name: data[name] for name in scep_services.SETTINGS}
        if data.get("clear_password"):
            values["default_password"] = ""
        elif data.get("default_password"):
            values["default_password"] = data["default_password"]
        return values


class SCEPEnrollmentForm(forms.Form):
    """Create (``instance`` None) or edit a SCEP enrollment request.

    The challenge password is the default enrollment password, one generated
    here (shown once, on the page that follows) or one typed in; it is
    write-only.
    """

    PASSWORD_DEFAULT, PASSWORD_RANDOM, PASSWORD_CUSTOM, PASSWORD_KEEP = (
        "default",
        "random",
        "custom",
        "keep",
    )

    reference = forms.CharField(
        label="Enrollment ID",
        max_length=profiles.MAX_REFERENCE_LENGTH,
        help_text="A name for this request (SCEP devices do not send it).",
    )
    scope = forms.ChoiceField(
        label="Type",
        choices=[("regular", "Regular"), ("wildcard", "Wildcard")],
        widget=forms.RadioSelect,
        help_text="<strong>Regular</strong>: one device, the subject it will request. "
        "<strong>Wildcard</strong>: any device with the shared challenge password whose "
        "subject matches the pattern; each gets an enrollment of its own on its first request.",
    )
    subject = forms.CharField(
        label="Subject",
        max_length=1024,
        required=False,
        help_text="Regular: the device's subject exactly, e.g. C=CZ, O=Example, CN=fw1.example.net.",
    )
    subject_pattern = forms.CharField(
        label="Subject pattern",
        max_length=1024,
        required=False,
        help_text="Wildcard: e.g. CN=*.branch.example.net (every attribute of the subject, in "
        "order; * and ? within a value). Empty accepts any subject.",
    )
    password_mode = forms.ChoiceField(
        label="Challenge password", widget=forms.RadioSelect, choices=[]
    )
    password = forms.CharField(
        label="Password",
        required=False,
        max_length=profiles.MAX_PASSWORD_LENGTH,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="When entering one: the device sends it as the CSR's challengePassword.",
    )
    ca = forms.ModelChoiceField(
        label="Certificate authority",
        queryset=CertificateAuthority.objects.none(),
        help_text="The local CA that signs the certificates of this request.",
    )
    allowed_sans = forms.CharField(
        label="Allowed SANs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: DNS:fw1.example.net, DNS:*.branch.example.net (one label), "
        "IP:192.0.2.1. Others are refused.",
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
    )
    renewable_days = forms.IntegerField(
        label="Renewable before expiry (days)",
        min_value=0,
        max_value=profiles.MAX_VALIDITY_DAYS,
        help_text="RenewalReq is accepted this many days before expiry; 0 allows it any time.",
    )
    method = forms.ChoiceField(label="Enrollment method", choices=METHOD_CHOICES)
    kind = forms.ChoiceField(label="Certificate category", choices=Certificate.Kind.choices)
    allow_reenrollment = forms.BooleanField(
        label="Allow re-enrollment",
        required=False,
        help_text="A new PKCSReq while a certificate is in force replaces it (otherwise use Reset).",
    )
    enabled = forms.BooleanField(label="Enabled", required=False)

    fieldsets = [
        ("Enrollment request", ["reference", "scope", "subject", "subject_pattern", "enabled"]),
        ("Challenge password", ["password_mode", "password"]),
        (
            "Certificate",
            ["ca", "kind", "allowed_sans", "validity_days", "renewable_days", "method"],
        ),
        ("Key usage", ["key_usage", "ext_key_usage"]),
        ("Renewal", ["allow_reenrollment"]),
    ]

    def __init__(
        self, *args: Any, instance: Enrollment | None = None, has_default: bool, **kwargs: Any
    ) -> None:
        self.instance = instance
        self.has_default = has_default
        #: The challenge password to store: None keeps the current one (edit).
        self.challenge: str | None = None
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(*args, **kwargs)
        usable = CertificateAuthority.objects.usable()
        if instance is not None:
            usable = usable | CertificateAuthority.objects.filter(pk=instance.ca_id)
        form_field(self, "ca", forms.ModelChoiceField).queryset = usable.distinct().order_by("name")
        # SCEP > General's default CA when set (the view's initial), else CMP > General's.
        start_on_default_ca(self)
        choices = []
        if instance is not None:
            choices.append((self.PASSWORD_KEEP, "Keep the current password"))
        if has_default:
            choices.append((self.PASSWORD_DEFAULT, "Use the default enrollment password"))
        choices += [
            (self.PASSWORD_RANDOM, "Generate a random password (shown once)"),
            (self.PASSWORD_CUSTOM, "Enter a password"),
        ]
        form_field(self, "password_mode", forms.ChoiceField).choices = choices
        if instance is not None:
            self.fields["reference"].disabled = True
            self.fields["scope"].disabled = True

    @property
    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in self.fieldsets]

    @staticmethod
    def initial_for(enrollment: Enrollment) -> dict[str, Any]:
        return {
            "reference": enrollment.reference,
            "scope": "wildcard" if enrollment.wildcard else "regular",
            "subject": enrollment.subject,
            "subject_pattern": enrollment.subject_pattern,
            "password_mode": SCEPEnrollmentForm.PASSWORD_KEEP,
            "ca": enrollment.ca_id,
            "allowed_sans": "\n".join(enrollment.allowed_sans),
            "key_usage": list(enrollment.key_usage),
            "ext_key_usage": list(enrollment.ext_key_usage),
            "validity_days": enrollment.validity_days,
            "renewable_days": enrollment.renewable_days,
            "method": enrollment.method,
            "kind": enrollment.kind,
            "allow_reenrollment": enrollment.allow_reenrollment,
            "enabled": enrollment.enabled,
        }

    def _dn(self, name: str) -> str:
        text = self.cleaned_data[name].strip()
        if not text:
            return ""
        try:
            return format_name(parse_name(text))
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_subject(self) -> str:
        return self._dn("subject")

    def clean_subject_pattern(self) -> str:
        return self._dn("subject_pattern")

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

    def _chosen_password(self) -> str | None:
        mode = self.cleaned_data.get("password_mode")
        if mode == self.PASSWORD_KEEP:
            return None
        if mode == self.PASSWORD_DEFAULT:
            password = scep_services.default_password()
            if not password:
                raise forms.ValidationError(
                    "No default enrollment password is set (SCEP > General)."
                )
            return password
        if mode == self.PASSWORD_RANDOM:
            return scep_services.generate_password()
        password = self.cleaned_data.get("password") or ""
        if not password:
            raise forms.ValidationError("Enter the challenge password.")
        return password

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            self.challenge = self._chosen_password()
        except forms.ValidationError as exc:
            self.add_error("password", exc)
            return data
        # The rules are the service's: the form adds none of its own.
        try:
            if self.instance is None:
                services.validate_enrollment(
                    reference=data["reference"],
                    password=self.challenge or "",
                    **self.service_arguments(),
                )
            else:
                services.validate_enrollment_change(
                    self.instance, password=self.challenge, **self.service_arguments()
                )
        except InvalidInput as exc:
            field = exc.field if exc.field in self.fields else None
            if exc.field == "wildcard":
                field = "scope"
            self.add_error(field, str(exc))
        return data

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned values as keyword arguments for create/update_enrollment."""
        data = self.cleaned_data
        wildcard = data["scope"] == "wildcard" if self.instance is None else self.instance.wildcard
        return {
            "protocol": Enrollment.Protocol.SCEP,
            "wildcard": wildcard,
            "subject": "" if wildcard else data["subject"],
            "subject_pattern": data["subject_pattern"] if wildcard else "",
            "ca": data["ca"],
            "allowed_sans": data["allowed_sans"],
            "key_usage": data["key_usage"],
            "ext_key_usage": data["ext_key_usage"],
            "validity_days": data["validity_days"],
            "renewable_days": data["renewable_days"],
            "method": data["method"],
            "kind": data["kind"],
            "allow_reenrollment": data["allow_reenrollment"],
            "enabled": data["enabled"],
        }
