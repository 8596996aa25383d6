"""Enrollments as CSV, for onboarding a fleet (``import_enrollments``, ``export_enrollments``).

One header row names the columns; ``reference``, ``password`` and ``ca`` are
required, the others optional::

    reference,password,ca,subject,key_usage,ext_key_usage,days,renewable_days,type,protocol,category,trusted_ca

``key_usage`` and ``ext_key_usage`` list names separated by ``;`` (commas and
spaces work too); ``ca`` is a certificate ID; ``type`` regular or device;
``protocol`` cmp or scep; ``category`` user, device or service;
``trusted_ca`` the vendor CA of a device enrollment. An import
stores every row or none: each bad row is reported as ``line N: reason``.
An export writes the same columns without passwords (they are never shown).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from certauth import services
from certauth.events import SYSTEM, Actor
from certauth.models import CertificateAuthority, Enrollment
from certauth.x509 import InvalidInput

REQUIRED = ("reference", "password", "ca")
OPTIONAL = (
    "subject",
    "key_usage",
    "ext_key_usage",
    "days",
    "renewable_days",
    "type",
    "protocol",
    "category",
    "trusted_ca",
)
COLUMNS = REQUIRED + OPTIONAL
EXPORT_COLUMNS = tuple(name for name in COLUMNS if name != "password")
#: Longest file accepted, so a wrong file fails fast instead of filling memory.
MAX_ROWS = 100_000
_LIST = re.compile(r"[;,\s]+")


class ImportError_(InvalidInput):  # noqa: N801 - not the builtin ImportError
    """The file cannot be imported; ``problems`` lists ``line N: reason`` for each bad row."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Parsed:
    rows: list[tuple[dict, str]]  # (checked values, password), for services.create_enrollments
    problems: list[str]


def _names(text: str) -> list[str]:
    return [name for name in _LIST.split(text.strip()) if name]


def _int(text: str, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"{column} must be a whole number, not {text!r}.") from None


def parse(text: str) -> Parsed:
    """Check every row of a CSV text; nothing is stored."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown:
        header_problems = []
        if missing:
            header_problems.append(f"line 1: missing column {', '.join(missing)}")
        if unknown:
            header_problems.append(
                f"line 1: unknown column {', '.join(unknown)} (columns: {', '.join(COLUMNS)})"
            )
        return Parsed(rows=[], problems=header_problems)
    reader.fieldnames = header
    cas = {ca.name: ca for ca in CertificateAuthority.objects.all()}
    existing = set(Enrollment.objects.values_list("reference", flat=True))
    seen: dict[str, int] = {}
    rows: list[tuple[dict, str]] = []
    problems: list[str] = []
    for record in reader:
        line = reader.line_num
        if len(rows) + len(problems) >= MAX_ROWS:
            problems.append(f"line {line}: more than {MAX_ROWS} rows")
            break
        if None in record:
            problems.append(f"line {line}: more fields than columns")
            continue
        values = {key: (value or "").strip() for key, value in record.items()}
        try:
            checked, password = _row(values, cas)
        except InvalidInput as exc:
            problems.append(f"line {line}: {exc}")
            continue
        reference = checked["reference"]
        if reference in existing:
            problems.append(f"line {line}: an enrollment with ID {reference!r} already exists")
        elif reference in seen:
            problems.append(
                f"line {line}: enrollment ID {reference!r} is also on line {seen[reference]}"
            )
        else:
            seen[reference] = line
            rows.append((checked, password))
    if not rows and not problems:
        problems.append("line 2: the file has no enrollments")
    return Parsed(rows=rows, problems=problems)


def _row(values: dict[str, str], cas: dict[str, CertificateAuthority]) -> tuple[dict, str]:
    ca = cas.get(values["ca"])
    if ca is None:
        raise InvalidInput(f"unknown CA {values['ca']!r}")
    fields: dict = {"ca": ca}
    if values.get("subject"):
        fields["subject"] = values["subject"]
    if values.get("key_usage"):
        fields["key_usage"] = _names(values["key_usage"])
    if values.get("ext_key_usage"):
        fields["ext_key_usage"] = _names(values["ext_key_usage"])
    if values.get("days"):
        fields["validity_days"] = _int(values["days"], "days")
    if values.get("renewable_days"):
        fields["renewable_days"] = _int(values["renewable_days"], "renewable_days")
    if values.get("type"):
        fields["type"] = values["type"]
    if values.get("protocol"):
        fields["protocol"] = values["protocol"]
    if values.get("category"):
        fields["kind"] = values["category"]
    if values.get("trusted_ca"):
        trusted = cas.get(values["trusted_ca"])
        if trusted is None:
            raise InvalidInput(f"unknown trusted CA {values['trusted_ca']!r}")
        fields["trusted_ca"] = trusted
    password = values["password"]
    checked = services.validate_enrollment(
        reference=values["reference"], password=password, unique=False, **fields
    )
    return checked, password


def import_text(
    text: str, *, source: str, dry_run: bool = False, actor: Actor = SYSTEM
) -> list[Enrollment] | int:
    """Import a CSV text all or nothing; a dry run returns how many rows would be created."""
    parsed = parse(text)
    if parsed.problems:
        raise ImportError_(parsed.problems)
    if dry_run:
        return len(parsed.rows)
    return services.create_enrollments(parsed.rows, source=source, actor=actor)


def export_rows(enrollments: Iterable[Enrollment]) -> Iterator[str]:
    """The CSV lines (header first) of *enrollments*, without passwords."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    for e in enrollments:
        writer.writerow(
            [
                e.reference,
                e.ca.name,
                e.subject,
                ";".join(e.key_usage),
                ";".join(e.ext_key_usage),
                e.validity_days,
                e.renewable_days,
                e.type,
                e.protocol,
                e.kind,
                e.trusted_ca.name if e.trusted_ca is not None else "",
            ]
        )
        yield flush()
