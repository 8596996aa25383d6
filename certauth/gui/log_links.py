"""What a line of the Logs page concerns, and who it names, for a page of entries at once.

Each entry keeps the parameters of its message (``LogEntry.params``): a serial,
a CA subject, an enrollment ID, a CMP transactionID. :func:`resolve` looks them
up for a whole page in one query per kind (certificates, CAs, enrollments,
traces), never one per row, and gives each entry:

- ``links``: the certificate, CA, enrollment and transaction it concerns;
- ``display_message``: the message with a long hexadecimal key ID shortened;
- ``display_user``: a readable identity for the User column. An entry written
  under a key ID (40 hexadecimal digits: the senderKID of a signed CMP request)
  shows the enrollment ID or the certificate's common name instead; the key ID
  stays in the detail view (``key_id``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from certauth import events
from certauth.models import Certificate, CertificateAuthority, Enrollment, LogEntry

#: A key identifier written as hex (SHA-1: 40 digits; 32 to 64 seen): never a name.
KEY_ID = re.compile(r"^[0-9A-Fa-f]{32,128}$")
#: The same inside a message: the list shortens it (the detail view shows it whole).
HEX_RUN = re.compile(r"\b[0-9A-Fa-f]{32,128}\b")

#: Log types whose ``subject`` is the subject of a CA.
CA_SUBJECT_TYPES = frozenset(
    log_type.id
    for log_type in (
        events.CA_CREATED,
        events.CA_IMPORTED,
        events.TRUSTED_CA_IMPORTED,
        events.CA_REVOKED,
        events.CRL_GENERATED,
        events.CA_KEY_EXPORTED,
        events.CA_RENAMED,
        events.CA_MANAGEMENT_ENTITY_SET,
        events.CA_MANAGEMENT_ENTITY_CLEARED,
        events.CA_EXPIRING,
    )
)
#: Log types whose ``ca`` (and ``expected``) are CA subjects.
CA_PARAM_TYPES = frozenset(
    {events.CERT_SIGNED.id, events.SCEP_RA_CREATED.id, events.CMP_WRONG_CA_PINNED.id}
)
PROTOCOL_SUBCATEGORIES = frozenset({events.SUB_CMP, events.SUB_SCEP})


@dataclass(frozen=True)
class Link:
    kind: str  # "certificate", "ca", "enrollment", "transaction"
    label: str
    url: str
    title: str = ""

    @property
    def short(self) -> str:
        """The label in the list's narrow Concerns column."""
        return "Cert" if self.kind == "certificate" else self.label


def _serial_key(text: str) -> str:
    """A logged serial (``DC:3D:...``) as the database keeps it (upper-case hex)."""
    value = text.replace(":", "").strip().upper()
    return value if re.fullmatch(r"[0-9A-F]{1,64}", value) else ""


def _references(entry: LogEntry) -> list[str]:
    params = entry.params or {}
    found = [params["reference"]] if params.get("reference") else []
    if entry.subcategory in PROTOCOL_SUBCATEGORIES and entry.user and not KEY_ID.match(entry.user):
        found.append(entry.user)
    return found


def _ca_subjects(entry: LogEntry) -> list[str]:
    params = entry.params or {}
    if entry.log_type_id in CA_SUBJECT_TYPES and params.get("subject"):
        return [params["subject"]]
    if entry.log_type_id in CA_PARAM_TYPES:
        return [params[name] for name in ("ca", "expected") if params.get(name)]
    return []


def _serials(entry: LogEntry) -> list[str]:
    params = entry.params or {}
    return [key for name in ("serial", "new_serial") if (key := _serial_key(params.get(name, "")))]


def _enrollment_url(enrollment: Enrollment) -> str:
    if enrollment.protocol == Enrollment.Protocol.SCEP:
        return reverse("scep_enrollment_detail", args=[enrollment.pk])
    return enrollment.get_absolute_url()


def resolve(entries: Iterable[LogEntry]) -> None:
    """Set ``links``, ``display_user`` and ``key_id`` on each of *entries* (a page)."""
    entries = list(entries)
    serials = {key for entry in entries for key in _serials(entry)}
    subjects = {subject for entry in entries for subject in _ca_subjects(entry)}
    references = {ref for entry in entries for ref in _references(entry)}

    certificates: dict[str, Certificate] = {}
    if serials:
        for cert in (
            Certificate.objects.filter(serial__in=serials)
            .select_related("ca", "enrollment")
            .only(
                "pk",
                "serial",
                "subject",
                "ca__id",
                "ca__name",
                "ca__subject",
                "enrollment__id",
                "enrollment__reference",
                "enrollment__protocol",
            )
        ):
            certificates[cert.serial] = cert
    cas: dict[str, CertificateAuthority] = {}
    if subjects:
        for ca in CertificateAuthority.objects.filter(subject__in=subjects).only(
            "pk", "name", "subject"
        ):
            cas.setdefault(ca.subject, ca)
    enrollments: dict[str, Enrollment] = {}
    if references:
        for enrollment in Enrollment.objects.filter(reference__in=references).only(
            "pk", "reference", "protocol"
        ):
            enrollments[enrollment.reference] = enrollment
    for entry in entries:
        links: list[Link] = []
        seen: set[tuple[str, str]] = set()

        def add(link: Link, links: list[Link] = links, seen: set = seen) -> None:
            if (link.kind, link.url) not in seen:
                seen.add((link.kind, link.url))
                links.append(link)

        certs = [certificates[key] for key in _serials(entry) if key in certificates]
        for cert in certs:
            add(
                Link(
                    "certificate",
                    "Certificate",
                    cert.get_absolute_url(),
                    f"{cert.subject} ({cert.serial_colons})",
                )
            )
        for subject in _ca_subjects(entry):
            if subject in cas:
                ca = cas[subject]
                add(Link("ca", "CA", ca.get_absolute_url(), ca.name))
        for cert in certs:
            add(Link("ca", "CA", cert.ca.get_absolute_url(), cert.ca.name))
        named = [enrollments[ref] for ref in _references(entry) if ref in enrollments]
        named += [cert.enrollment for cert in certs if cert.enrollment is not None]
        for enrollment in named:
            add(Link("enrollment", "Enrollment", _enrollment_url(enrollment), enrollment.reference))
        transaction_id = (entry.params or {}).get("transaction_id", "")
        if transaction_id:
            # The debug page, filtered to the transaction (its exchanges, if recorded).
            add(
                Link(
                    "transaction",
                    "Transaction",
                    reverse("cmp_debug") + "?" + urlencode({"transaction": transaction_id}),
                    transaction_id,
                )
            )
        user_key = entry.user if KEY_ID.match(entry.user or "") else ""
        sender = str((entry.params or {}).get("sender", ""))
        # The key ID of a signed request: the user it was logged under, or its sender.
        key_id = user_key or (sender if KEY_ID.match(sender) else "")
        # Attributes of this page's rows only (the template reads them).
        vars(entry).update(
            links=links,
            key_id=key_id,
            display_message=HEX_RUN.sub(_short_hex, entry.message),
            display_user=_display_user(entry, user_key, named, certs),
        )


def _display_user(
    entry: LogEntry, user_key: str, enrollments: list[Enrollment], certs: list[Certificate]
) -> str:
    if not user_key:
        return entry.user
    if enrollments:
        return enrollments[0].reference
    params = entry.params or {}
    if params.get("reference"):
        return params["reference"]
    for cert in certs:
        common_name = _common_name(cert.subject)
        if common_name:
            return common_name
    return f"key {entry.user[:8].lower()}…"


def _short_hex(match: re.Match[str]) -> str:
    text = match.group(0)
    return f"{text[:8]}…{text[-4:]}"


def _common_name(subject: str) -> str:
    for part in re.split(r",\s*", subject):
        if part.upper().startswith("CN="):
            return part[3:]
    return ""
