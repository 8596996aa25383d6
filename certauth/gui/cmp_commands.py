"""What an administrator pastes into a device for one CMP enrollment request.

The FortiGate enrolls with ``execute vpn certificate local generate cmp-rsa``
(docs/fortigate.md): this server's address, the CMP path, the name under which
the FortiGate imported the enrollment's CA certificate (the CA it pins: every
response must come from, and be protected for, that CA), the enrollment ID and
its password. ``openssl cmp`` is the same client on the command line. The
password is write-only: the commands carry a placeholder, never the secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509

from certauth.models import CertificateAuthority, Enrollment
from certauth.x509 import parse_name, short_name

CMP_PATH = "/app/cert/cmp2"
PLACEHOLDER_PASSWORD = "<password>"  # noqa: S105 - a placeholder
PLACEHOLDER_DEVICE = "<device name>"
#: FortiOS names an imported CA certificate CA_Cert_1, CA_Cert_2, ...
DEFAULT_FORTIGATE_CA_NAME = "CA_Cert_1"
#: A FortiOS certificate name: what the page accepts as the imported CA's name.
FORTIGATE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,35}$")
KEY_FILE = "key.pem"
CERT_FILE = "cert.pem"


def quote(value: str) -> str:
    """A FortiOS CLI argument: "" when empty, quoted when it holds spaces or quotes."""
    if value == "":
        return '""'
    if any(c in value for c in ' "\\#;'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def shell_quote(value: str) -> str:
    """A POSIX shell argument, double-quoted when needed (placeholders stay readable)."""
    if value and re.fullmatch(r"[A-Za-z0-9_.:/=@%+,-]+", value):
        return value
    return '"' + re.sub(r'(["\\$`])', r"\\\1", value) + '"'


def openssl_subject(name: x509.Name) -> str:
    """*name* as ``openssl -subject`` takes it: ``/C=CZ/O=Example/CN=fw1`` (DER order)."""
    parts = []
    for attribute in name:
        short = short_name(attribute.oid)
        value = str(attribute.value).replace("\\", "\\\\").replace("/", "\\/")
        parts.append(f"{short}={value}")
    return "/" + "/".join(parts)


def server_address(base_url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of *base_url* (``http://host:port``), the port made explicit."""
    parts = urlsplit(base_url if "//" in base_url else f"http://{base_url}")
    scheme = parts.scheme or "http"
    host = parts.hostname or "localhost"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return scheme, host, parts.port or (443 if scheme == "https" else 80)


@dataclass(frozen=True)
class CMPCommands:
    url: str  # http://host:port, as the FortiGate takes it
    server: str  # host:port, as openssl cmp takes it
    path: str
    certificate_name: str
    ca_file: str  # the issuing CA's certificate as the page's PEM download names it
    fortigate_ca_name: str
    fortigate_ca_import: str
    fortigate_generate: str
    openssl_keygen: str
    openssl: str
    openssl_verify: str


def _certificate_name(enrollment: Enrollment) -> str:
    clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in enrollment.reference)
    return clean[:35] or "cmp"


def subject_name(enrollment: Enrollment) -> x509.Name | None:
    """The subject the enrollment requires, or None when the device chooses it."""
    return parse_name(enrollment.subject) if enrollment.subject else None


def commands(
    enrollment: Enrollment,
    base_url: str,
    *,
    fortigate_ca_name: str = DEFAULT_FORTIGATE_CA_NAME,
    ca: CertificateAuthority | None = None,
) -> CMPCommands:
    """The commands for *enrollment*, the server at *base_url* (``http://host:port``).

    *ca* is the CA the device pins, the enrollment's own (the issuing CA, an
    intermediate if it is one); *fortigate_ca_name* the name the FortiGate gave it.
    """
    issuing = ca or enrollment.ca
    scheme, host, port = server_address(base_url)
    url = f"{scheme}://{host}:{port}"
    server = f"{host}:{port}" if scheme == "http" else f"https://{host}:{port}"
    name = _certificate_name(enrollment)
    ca_file = f"{issuing.name}.pem"
    subject = subject_name(enrollment)
    fortigate_subject = enrollment.subject if subject is not None else f"CN={PLACEHOLDER_DEVICE}"
    generate = " ".join(
        [
            "execute vpn certificate local generate cmp-rsa",
            quote(name),
            "2048",
            quote(url),
            CMP_PATH,
            quote(fortigate_ca_name),
            '""',
            quote(enrollment.reference),
            PLACEHOLDER_PASSWORD,
            quote(fortigate_subject),
        ]
    )
    openssl_args = [
        "openssl cmp -cmd ir",
        f"-server {server}",
        f"-path {CMP_PATH}",
        *(["-tls_used"] if scheme == "https" else []),
        f"-ref {shell_quote(enrollment.reference)}",
        f"-secret pass:{PLACEHOLDER_PASSWORD}",
        f"-srvcert {shell_quote(ca_file)}",
        f"-newkey {KEY_FILE}",
        "-subject "
        + shell_quote(
            openssl_subject(subject) if subject is not None else f"/CN={PLACEHOLDER_DEVICE}"
        ),
        f"-certout {CERT_FILE}",
    ]
    return CMPCommands(
        url=url,
        server=server,
        path=CMP_PATH,
        certificate_name=name,
        ca_file=ca_file,
        fortigate_ca_name=fortigate_ca_name,
        fortigate_ca_import=f"execute vpn certificate ca import tftp {quote(ca_file)} <TFTP server>",
        fortigate_generate=generate,
        openssl_keygen=f"openssl genrsa -out {KEY_FILE} 2048",
        openssl=" ".join(openssl_args),
        openssl_verify=f"openssl verify -partial_chain -CAfile {shell_quote(ca_file)} {CERT_FILE}",
    )
