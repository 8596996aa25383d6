"""Forms of the administrator GUI: login, CAs, certificates, CRLs.

Forms check what the administrator typed (required fields, SAN syntax, matching
passphrases); the rules themselves stay in certauth.services, whose
InvalidInput / ServiceError messages the views add back to the form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from certauth import profiles

if TYPE_CHECKING:
    from cryptography import x509
    from django.db.models import QuerySet

    from certauth.models import CertificateAuthority

FieldT = TypeVar("FieldT", bound=forms.Field)

# CMP > General's default CA lives in the cmp app, which certauth never imports
# (tests/test_layering.py): the app registers how to read it (cmp/apps.py).
_default_ca_sources: list[Callable[[], int | None]] = []


def register_default_ca(source: Callable[[], int | None]) -> None:
    """Add *source*, which returns the id of the configured default CA (or None)."""
    if source not in _default_ca_sources:
        _default_ca_sources.append(source)


def default_ca_id(choices: QuerySet[CertificateAuthority]) -> int | None:
    """The configured default CA, when it is one of *choices*: CA fields start on it
    rather than on the first CA of the list."""
    for source in _default_ca_sources:
        pk = source()
        if pk and choices.filter(pk=pk).exists():
            return pk
    return None


def start_on_default_ca(form: forms.BaseForm, name: str = "ca") -> None:
    """An unbound form without an initial CA starts on the configured default CA."""
    if form.is_bound or form.initial.get(name):
        return
    field = form_field(form, name, forms.ModelChoiceField)
    if field.queryset is None:
        return
    pk = default_ca_id(field.queryset)
    if pk is not None:
        form.initial[name] = pk


def form_field(form: forms.BaseForm, name: str, kind: type[FieldT]) -> FieldT:
    """``form.fields[name]``, as the field class the form declares it with."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"Field {name!r} is a {type(field).__name__}, not a {kind.__name__}.")
    return field


class GroupedFieldsMixin(forms.BaseForm):
    """``fieldsets = [(legend, [field names])]`` renders as <fieldset> groups."""

    fieldsets: list[tuple[str, list[str]]] = []

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [
            (legend, [self[name] for name in names if name in self.fields])
            for legend, names in self.fieldsets
        ]


class StaffAuthenticationForm(AuthenticationForm):
    """Only staff accounts may use the GUI; a locked-out login is told when to try again."""

    def clean(self):
        from certauth import auth

        username = self.cleaned_data.get("username") or ""
        wait = auth.retry_after(username, self.request)
        if wait is not None:
            raise forms.ValidationError(
                f"Too many failed attempts; try again in {wait} s.", code="locked"
            )
        try:
            return super().clean()
        except forms.ValidationError:
            wait = auth.retry_after(username, self.request)
            if wait is not None:  # this failure began the lockout
                raise forms.ValidationError(
                    f"Too many failed attempts; try again in {wait} s.", code="locked"
                ) from None
            raise

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(
                "This account is not an administrator account.", code="not_staff"
            )


# --- Shared pieces ----------------------------------------------------------------------

MAX_UPLOAD = 256 * 1024  # certificates, keys, CSRs and PKCS#12 files are a few kB

KEY_CHOICES = [
    ("rsa-2048", "RSA 2048"),
    ("rsa-3072", "RSA 3072"),
    ("rsa-4096", "RSA 4096"),
    ("ec-p256", "ECDSA P-256"),
    ("ec-p384", "ECDSA P-384"),
    # RFC 9481, 3.3: EdDSA (RFC 8410)
    ("ed25519", "Ed25519"),
    ("ed448", "Ed448"),
]
HASH_CHOICES = [("sha256", "SHA-256"), ("sha384", "SHA-384"), ("sha512", "SHA-512")]


def key_arguments(choice: str) -> dict:
    """KEY_CHOICES value -> keyword arguments of x509.generate_private_key / create_ca."""
    key_type, _, size = choice.partition("-")
    if key_type == "rsa":
        return {"key_type": "rsa", "key_size": int(size)}
    if key_type in ("ed25519", "ed448"):
        return {"key_type": key_type}
    return {"key_type": "ec", "curve": size}


def read_upload(upload, label: str) -> bytes:
    if upload.size > MAX_UPLOAD:
        raise forms.ValidationError(f"The {label} is larger than {MAX_UPLOAD // 1024} kB.")
    return upload.read()


def _escape_dn_value(value: str) -> str:
    # certauth.x509.parse_name: a backslash escapes a comma or a backslash.
    return value.replace("\\", "\\\\").replace(",", "\\,")


class SubjectFieldsMixin(forms.BaseForm):
    """CN, O, OU, L, ST, C and e-mail fields that make one DN."""

    SUBJECT_FIELDS = [
        ("country", "C"),
        ("state", "ST"),
        ("locality", "L"),
        ("organization", "O"),
        ("organizational_unit", "OU"),
        ("common_name", "CN"),
        ("email", "emailAddress"),
    ]

    def subject_text(self) -> str:
        data = self.cleaned_data
        parts = [
            f"{attribute}={_escape_dn_value(data[field])}"
            for field, attribute in self.SUBJECT_FIELDS
            if data.get(field)
        ]
        return ", ".join(parts)


def subject_fields(cn_required: bool = True) -> dict[str, forms.Field]:
    return {
        "common_name": forms.CharField(label="Name (CN)", max_length=64, required=cn_required),
        "organization": forms.CharField(label="Organization (O)", max_length=64, required=False),
        "organizational_unit": forms.CharField(
            label="Organizational unit (OU)", max_length=64, required=False
        ),
        "locality": forms.CharField(label="Locality (L)", max_length=128, required=False),
        "state": forms.CharField(label="State/Province (ST)", max_length=128, required=False),
        "country": forms.CharField(
            label="Country (C)",
            max_length=2,
            min_length=2,
            required=False,
            help_text="Two-letter country code, e.g. CZ.",
        ),
        "email": forms.EmailField(label="E-mail", max_length=128, required=False),
    }


class PassphraseFieldsMixin(forms.BaseForm):
    """``passphrase`` and ``passphrase_again`` must match."""

    def clean_passphrase_pair(self, cleaned: dict[str, Any], *, required: bool) -> None:
        passphrase = cleaned.get("passphrase") or ""
        again = cleaned.get("passphrase_again") or ""
        if required and not passphrase:
            self.add_error("passphrase", "Type a passphrase to protect the private key.")
        elif passphrase != again:
            self.add_error("passphrase_again", "The passphrases differ.")


def passphrase_fields() -> dict[str, forms.Field]:
    return {
        "passphrase": forms.CharField(
            label="PKCS#12 passphrase",
            required=False,
            strip=False,
            max_length=256,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text="Protects the private key in the downloaded file.",
        ),
        "passphrase_again": forms.CharField(
            label="Confirm passphrase",
            required=False,
            strip=False,
            max_length=256,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        ),
    }


class RevokeForm(forms.Form):
    # The RFC 5280 5.3.1 reasons the model knows (removeFromCRL is what un-revoking a hold does).
    reason = forms.ChoiceField(label="Reason", initial="unspecified")

    def __init__(self, *args, **kwargs):
        from certauth.models import Certificate

        super().__init__(*args, **kwargs)
        form_field(self, "reason", forms.ChoiceField).choices = Certificate.Reason.choices


# --- Certificate authorities --------------------------------------------------------


def _ca_name_field() -> forms.CharField:
    return forms.CharField(
        label="Certificate ID",
        max_length=64,
        help_text="Unique name of the CA in this server, e.g. fac.example.root (no spaces).",
    )


class CACreateForm(GroupedFieldsMixin, SubjectFieldsMixin, forms.Form):
    ROOT, INTERMEDIATE = "root", "intermediate"

    name = _ca_name_field()
    ca_type = forms.ChoiceField(
        label="CA type",
        widget=forms.RadioSelect,
        initial=ROOT,
        choices=[(ROOT, "Root CA certificate"), (INTERMEDIATE, "Intermediate CA certificate")],
    )
    parent: forms.ModelChoiceField[CertificateAuthority] = forms.ModelChoiceField(
        label="Signed by",
        queryset=None,
        required=False,
        empty_label="(choose a local CA)",
        help_text="Intermediate CAs only: the local CA that signs it.",
    )
    key = forms.ChoiceField(label="Key type", choices=KEY_CHOICES, initial="rsa-2048")
    hash_name = forms.ChoiceField(label="Hash algorithm", choices=HASH_CHOICES, initial="sha256")
    validity_days = forms.IntegerField(
        label="Validity (days)",
        min_value=1,
        max_value=profiles.MAX_VALIDITY_DAYS,
        initial=profiles.DEFAULT_CA_DAYS,
        help_text="An intermediate CA never outlives the CA that signs it.",
    )

    fieldsets = [
        ("Certificate authority", ["name", "ca_type", "parent"]),
        (
            "Subject",
            [
                "common_name",
                "organization",
                "organizational_unit",
                "locality",
                "state",
                "country",
                "email",
            ],
        ),
        ("Key and validity", ["key", "hash_name", "validity_days"]),
    ]

    def __init__(self, *args, **kwargs):
        from certauth.models import CertificateAuthority

        super().__init__(*args, **kwargs)
        self.fields.update(subject_fields())
        form_field(
            self, "parent", forms.ModelChoiceField
        ).queryset = CertificateAuthority.objects.usable()

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("ca_type") == self.INTERMEDIATE and not cleaned.get("parent"):
            self.add_error("parent", "Choose the local CA that signs the intermediate CA.")
        if cleaned.get("ca_type") == self.ROOT:
            cleaned["parent"] = None
        return cleaned


class CAImportForm(GroupedFieldsMixin, forms.Form):
    PEM, PKCS12 = "pem", "pkcs12"

    name = _ca_name_field()
    import_type = forms.ChoiceField(
        label="Type",
        widget=forms.RadioSelect,
        initial=PKCS12,
        choices=[
            (PKCS12, "PKCS#12 certificate"),
            (PEM, "Certificate and private key (PEM or DER)"),
        ],
    )
    pkcs12_file = forms.FileField(label="PKCS#12 file", required=False)
    certificate_file = forms.FileField(label="Certificate file", required=False)
    key_file = forms.FileField(label="Private key file", required=False)
    passphrase = forms.CharField(
        label="Passphrase",
        required=False,
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Of the PKCS#12 file, or of an encrypted private key.",
    )

    fieldsets = [
        ("Local CA", ["name", "import_type"]),
        ("Files", ["pkcs12_file", "certificate_file", "key_file", "passphrase"]),
    ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("import_type") == self.PKCS12:
            if not cleaned.get("pkcs12_file"):
                self.add_error("pkcs12_file", "Choose the PKCS#12 file.")
        else:
            if not cleaned.get("certificate_file"):
                self.add_error("certificate_file", "Choose the CA certificate file.")
            if not cleaned.get("key_file"):
                self.add_error("key_file", "A local CA needs its private key.")
        for field in ("pkcs12_file", "certificate_file", "key_file"):
            upload = cleaned.get(field)
            if upload:
                try:
                    label = str(self.fields[field].label or field)
                    cleaned[field] = read_upload(upload, label.lower())
                except forms.ValidationError as exc:
                    self.add_error(field, exc)
        return cleaned


class TrustedCAImportForm(forms.Form):
    name = _ca_name_field()
    certificate_file = forms.FileField(
        label="Certificate file", help_text="The CA certificate, PEM or DER. No private key."
    )

    def clean_certificate_file(self) -> bytes:
        return read_upload(self.cleaned_data["certificate_file"], "certificate file")


class PKCS12ExportForm(PassphraseFieldsMixin, forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(passphrase_fields())

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self.clean_passphrase_pair(cleaned, required=True)
        return cleaned


# --- End-entity certificates ----------------------------------------------------------


def parse_san_lines(text: str) -> tuple[list[x509.GeneralName], list[str]]:
    """SANs typed one per line -> (GeneralNames, error messages); nothing is dropped."""
    from certauth.x509 import InvalidInput, parse_san

    names: list[x509.GeneralName] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            names.append(parse_san(line))
        except InvalidInput as exc:
            errors.append(f"Line {number}: {exc}")
    return names, errors


class CertificateCreateForm(
    GroupedFieldsMixin, SubjectFieldsMixin, PassphraseFieldsMixin, forms.Form
):
    CSR, GENERATE = "csr", "generate"

    name = forms.CharField(
        label="Certificate ID",
        max_length=128,
        required=False,
        help_text="Optional; the common name is used when empty.",
    )
    ca: forms.ModelChoiceField[CertificateAuthority] = forms.ModelChoiceField(
        label="Certificate authority", queryset=None, empty_label=None
    )
    source = forms.ChoiceField(
        label="Key",
        widget=forms.RadioSelect,
        initial=CSR,
        choices=[
            (CSR, "Import a certificate signing request (CSR)"),
            (GENERATE, "Generate the key on this server (download once as PKCS#12)"),
        ],
    )
    csr_file = forms.FileField(label="CSR file", required=False, help_text="PEM or DER.")
    csr_text = forms.CharField(
        label="or paste the CSR",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="-----BEGIN CERTIFICATE REQUEST----- ...",
    )
    key = forms.ChoiceField(label="Key type", choices=KEY_CHOICES, initial="rsa-2048")
    sans = forms.CharField(
        label="Subject alternative names",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "DNS:host.example.com\nIP:192.0.2.1"}
        ),
        help_text="One per line: DNS:host, IP:192.0.2.1, email:user@example.com, URI:https://... "
        "For a CSR, leave empty to keep the names the CSR asks for.",
    )
    key_usage = forms.MultipleChoiceField(
        label="Key usage",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        initial=list(profiles.DEFAULT_ENROLLMENT_KEY_USAGE),
    )
    ext_key_usage = forms.MultipleChoiceField(
        label="Extended key usage",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    validity_days = forms.IntegerField(
        label="Validity (days)",
        min_value=1,
        max_value=profiles.MAX_VALIDITY_DAYS,
        initial=profiles.DEFAULT_CERTIFICATE_DAYS,
        help_text="Capped at the CA's own expiry.",
    )
    hash_name = forms.ChoiceField(
        label="Hash algorithm",
        required=False,
        choices=[("", "Same as the CA"), *HASH_CHOICES],
    )

    fieldsets = [
        ("Certificate", ["name", "ca", "source"]),
        ("Certificate signing request", ["csr_file", "csr_text"]),
        (
            "Subject (server-generated key)",
            [
                "common_name",
                "organization",
                "organizational_unit",
                "locality",
                "state",
                "country",
                "email",
                "key",
                "passphrase",
                "passphrase_again",
            ],
        ),
        ("Extensions", ["sans", "key_usage", "ext_key_usage", "validity_days", "hash_name"]),
    ]

    def __init__(self, *args, ext_key_usage_initial: list[str] | None = None, **kwargs):
        from certauth import x509 as x509util
        from certauth.models import CertificateAuthority

        super().__init__(*args, **kwargs)
        self.fields.update(subject_fields(cn_required=False))
        self.fields.update(passphrase_fields())
        form_field(
            self, "ca", forms.ModelChoiceField
        ).queryset = CertificateAuthority.objects.usable()
        start_on_default_ca(self)
        form_field(self, "key_usage", forms.MultipleChoiceField).choices = list(
            x509util.KEY_USAGE_LABELS.items()
        )
        form_field(self, "ext_key_usage", forms.MultipleChoiceField).choices = list(
            x509util.EXT_KEY_USAGE_LABELS.items()
        )
        if ext_key_usage_initial is not None:
            self.fields["ext_key_usage"].initial = ext_key_usage_initial

    def clean_sans(self) -> list[x509.GeneralName]:
        names, errors = parse_san_lines(self.cleaned_data.get("sans", ""))
        if errors:
            raise forms.ValidationError(errors)
        return names

    def clean_key_usage(self) -> list[str]:
        from certauth import x509 as x509util

        value = self.cleaned_data.get("key_usage", [])
        try:
            x509util.key_usage_extension(value)
        except x509util.InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None
        return value

    def clean(self) -> dict[str, Any]:
        from certauth import x509 as x509util

        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("source") == self.CSR:
            upload, text = cleaned.get("csr_file"), (cleaned.get("csr_text") or "").strip()
            if upload and text:
                self.add_error("csr_text", "Upload a file or paste a CSR, not both.")
            elif not upload and not text:
                self.add_error("csr_file", "Upload or paste the certificate signing request.")
            else:
                field = "csr_file" if upload else "csr_text"
                try:
                    data = read_upload(upload, "CSR file") if upload else text.encode()
                    x509util.load_csr(data)
                except forms.ValidationError as exc:
                    self.add_error(field, exc)
                except x509util.InvalidInput as exc:
                    self.add_error(field, str(exc))
                else:
                    cleaned["csr_data"] = data
        elif cleaned.get("source") == self.GENERATE:
            if not cleaned.get("common_name") and not cleaned.get("sans"):
                self.add_error("common_name", "Give a name (CN) or subject alternative names.")
            self.clean_passphrase_pair(cleaned, required=True)
            if cleaned.get("common_name"):
                try:
                    cleaned["subject"] = x509util.parse_name(self.subject_text())
                except x509util.InvalidInput as exc:
                    self.add_error(None, str(exc))
            else:
                from cryptography import x509

                cleaned["subject"] = x509.Name([])
        return cleaned
