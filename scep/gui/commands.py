"""What an administrator pastes into a device for one SCEP enrollment request.

FortiGate (FortiOS 7.x CLI): the CA certificate fetched over SCEP, the local
certificate generated and enrolled, then its automatic regeneration; and the
same for a Cisco IOS trustpoint and Debian's scepclient. Values that contain
spaces or quotes are quoted for the FortiOS CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from certauth.gui.cmp_commands import quote  # the FortiOS CLI's quoting, shared with CMP
from certauth.models import Enrollment
from certauth.x509 import parse_name

PLACEHOLDER_PASSWORD = "<challenge password>"  # noqa: S105 - a placeholder
#: FortiOS: days before expiry when the local certificate is re-enrolled, and warned about.
AUTO_REGENERATE_DAYS = 30
AUTO_REGENERATE_WARNING = 7


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[-1].value) if values else ""


@dataclass(frozen=True)
class DeviceCommands:
    url: str  # the SCEP URL with the trailing slash, as FortiGates use it
    certificate_name: str
    fortigate_generate: str
    fortigate_config: str
    fortigate_ca_import: str
    cisco: str
    scepclient: str


def _certificate_name(enrollment: Enrollment) -> str:
    clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in enrollment.reference)
    return clean[:35] or "scep"


def commands(enrollment: Enrollment, base_url: str, password: str | None = None) -> DeviceCommands:
    """The commands for *enrollment*, the server at *base_url* (``http://host:port``)."""
    url = f"{base_url.rstrip('/')}/app/cert/scep/"
    secret = password if password is not None else PLACEHOLDER_PASSWORD
    name = _certificate_name(enrollment)
    if enrollment.subject:
        subject = parse_name(enrollment.subject)
        common = _attribute(subject, NameOID.COMMON_NAME)
    else:
        subject = x509.Name([])
        common = "<device name>"
        if enrollment.subject_pattern:
            pattern = _attribute(parse_name(enrollment.subject_pattern), NameOID.COMMON_NAME)
            common = pattern.replace("*", "<device>") if pattern else common
    fields = [
        _attribute(subject, NameOID.COUNTRY_NAME),
        _attribute(subject, NameOID.STATE_OR_PROVINCE_NAME),
        _attribute(subject, NameOID.LOCALITY_NAME),
        _attribute(subject, NameOID.ORGANIZATION_NAME),
        _attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        _attribute(subject, NameOID.EMAIL_ADDRESS),
    ]
    san = next((s for s in enrollment.allowed_sans if s.startswith("DNS:") and "*" not in s), "")
    generate = " ".join(
        [
            "execute vpn certificate local generate rsa",
            quote(name),
            "2048",
            quote(common),
            *(quote(value) for value in fields),
            quote(san),
            quote(url),
            quote(secret),
        ]
    )
    config = "\n".join(
        [
            "config vpn certificate local",
            f"    edit {quote(name)}",
            "        set enroll-protocol scep",
            f"        set scep-url {quote(url)}",
            f"        set scep-password {quote(secret)}",
            f"        set auto-regenerate-days {AUTO_REGENERATE_DAYS}",
            f"        set auto-regenerate-days-warning {AUTO_REGENERATE_WARNING}",
            "    next",
            "end",
        ]
    )
    ca_import = f'execute vpn certificate ca import auto {quote(url)} ""'
    cisco_subject = enrollment.subject or f"CN={common}"
    cisco = "\n".join(
        [
            f"crypto pki trustpoint {name}",
            f" enrollment url {base_url.rstrip('/')}/cgi-bin/pkiclient.exe",
            f" subject-name {cisco_subject.replace(', ', ',')}",
            " revocation-check none",
            f" rsakeypair {name} 2048",
            f" password {secret}",
            " auto-enroll 70 regenerate",
            "crypto pki authenticate " + name,
            "crypto pki enroll " + name,
        ]
    )
    client_args = [
        "scepclient",
        f"-server-url {url}",
        "-private-key device.key",
        "-certificate device.pem",
        f"-cn {quote(common)}",
        f"-challenge {quote(secret)}",
    ]
    scepclient = " \\\n    ".join(client_args)
    return DeviceCommands(
        url=url,
        certificate_name=name,
        fortigate_generate=generate,
        fortigate_config=config,
        fortigate_ca_import=ca_import,
        cisco=cisco,
        scepclient=scepclient,
    )
