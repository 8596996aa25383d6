"""A generic DER walker for the debug page's decoded view of CMP messages.

It knows no ASN.1 module: it reads tag, length and value (X.690, 8.1), names
universal types, shows primitive values readably, and looks inside OCTET and
BIT STRINGs that hold DER (extensions, encapsulated keys). Junk never raises:
what cannot be read becomes an "undecodable" node with the bytes in hex; a
TLV cut short shows the part that is there, marked as truncated. Then
:mod:`cmp.gui.asn1schema` names the components of the CMP and SCEP structures
it knows, as far as their shape fits.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from cmp.gui import asn1schema

log = logging.getLogger(__name__)

MAX_DEPTH = 40
MAX_NODES = 4000
HEX_LIMIT = 64
TEXT_LIMIT = 200

CLASSES = ("universal", "application", "context", "private")

UNIVERSAL = {
    1: "BOOLEAN",
    2: "INTEGER",
    3: "BIT STRING",
    4: "OCTET STRING",
    5: "NULL",
    6: "OBJECT IDENTIFIER",
    10: "ENUMERATED",
    12: "UTF8String",
    16: "SEQUENCE",
    17: "SET",
    18: "NumericString",
    19: "PrintableString",
    20: "T61String",
    22: "IA5String",
    23: "UTCTime",
    24: "GeneralizedTime",
    26: "VisibleString",
    28: "UniversalString",
    30: "BMPString",
}
_STRINGS = {12, 18, 19, 20, 22, 26}

# Common CMP / PKIX OIDs: dotted -> name.
OID_NAMES = {
    # CMP protection (RFC 4210 / RFC 9810, RFC 9481)
    "1.2.840.113533.7.66.13": "passwordBasedMac",
    "1.2.840.113533.7.66.30": "dhBasedMac",
    "1.2.840.113549.1.5.14": "PBMAC1",
    "1.2.840.113549.1.5.12": "PBKDF2",
    "1.2.840.113549.2.7": "hmacWithSHA1",
    "1.2.840.113549.2.9": "hmacWithSHA256",
    "1.2.840.113549.2.10": "hmacWithSHA384",
    "1.2.840.113549.2.11": "hmacWithSHA512",
    "1.3.6.1.5.5.8.1.2": "hmac-sha1",
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    # Signature and key algorithms
    "1.2.840.113549.1.1.1": "rsaEncryption",
    "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
    "1.2.840.113549.1.1.10": "RSASSA-PSS",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
    "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
    "1.2.840.10045.2.1": "ecPublicKey",
    "1.2.840.10045.3.1.7": "prime256v1",
    "1.3.132.0.34": "secp384r1",
    "1.3.132.0.35": "secp521r1",
    "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
    "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    # CMP general info (id-it, RFC 9810 5.3.19)
    "1.3.6.1.5.5.7.4.1": "id-it-caProtEncCert",
    "1.3.6.1.5.5.7.4.2": "id-it-signKeyPairTypes",
    "1.3.6.1.5.5.7.4.3": "id-it-encKeyPairTypes",
    "1.3.6.1.5.5.7.4.4": "id-it-preferredSymmAlg",
    "1.3.6.1.5.5.7.4.5": "id-it-caKeyUpdateInfo",
    "1.3.6.1.5.5.7.4.6": "id-it-currentCRL",
    "1.3.6.1.5.5.7.4.7": "id-it-unsupportedOIDs",
    "1.3.6.1.5.5.7.4.10": "id-it-keyPairParamReq",
    "1.3.6.1.5.5.7.4.11": "id-it-keyPairParamRep",
    "1.3.6.1.5.5.7.4.12": "id-it-revPassphrase",
    "1.3.6.1.5.5.7.4.13": "id-it-implicitConfirm",
    "1.3.6.1.5.5.7.4.14": "id-it-confirmWaitTime",
    "1.3.6.1.5.5.7.4.15": "id-it-origPKIMessage",
    "1.3.6.1.5.5.7.4.16": "id-it-suppLangTags",
    "1.3.6.1.5.5.7.4.17": "id-it-caCerts",
    "1.3.6.1.5.5.7.4.18": "id-it-rootCaKeyUpdate",
    "1.3.6.1.5.5.7.4.19": "id-it-certReqTemplate",
    "1.3.6.1.5.5.7.4.20": "id-it-rootCaCert",
    "1.3.6.1.5.5.7.4.21": "id-it-certProfile",
    "1.3.6.1.5.5.7.4.22": "id-it-crlStatusList",
    "1.3.6.1.5.5.7.4.23": "id-it-crls",
    # CRMF registration controls and info (RFC 4211 6, 7)
    "1.3.6.1.5.5.7.5.1.1": "id-regCtrl-regToken",
    "1.3.6.1.5.5.7.5.1.2": "id-regCtrl-authenticator",
    "1.3.6.1.5.5.7.5.1.3": "id-regCtrl-pkiPublicationInfo",
    "1.3.6.1.5.5.7.5.1.4": "id-regCtrl-pkiArchiveOptions",
    "1.3.6.1.5.5.7.5.1.5": "id-regCtrl-oldCertID",
    "1.3.6.1.5.5.7.5.1.6": "id-regCtrl-protocolEncrKey",
    "1.3.6.1.5.5.7.5.2.1": "id-regInfo-utf8Pairs",
    "1.3.6.1.5.5.7.5.2.2": "id-regInfo-certReq",
    # Names (X.520, PKCS #9)
    "2.5.4.3": "commonName",
    "2.5.4.4": "surname",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "countryName",
    "2.5.4.7": "localityName",
    "2.5.4.8": "stateOrProvinceName",
    "2.5.4.9": "streetAddress",
    "2.5.4.10": "organizationName",
    "2.5.4.11": "organizationalUnitName",
    "2.5.4.12": "title",
    "2.5.4.42": "givenName",
    "0.9.2342.19200300.100.1.1": "userId",
    "0.9.2342.19200300.100.1.25": "domainComponent",
    "1.2.840.113549.1.9.1": "emailAddress",
    "1.2.840.113549.1.9.7": "challengePassword",
    "1.2.840.113549.1.9.14": "extensionRequest",
    # Certificate extensions (RFC 5280 4.2)
    "2.5.29.14": "subjectKeyIdentifier",
    "2.5.29.15": "keyUsage",
    "2.5.29.17": "subjectAltName",
    "2.5.29.18": "issuerAltName",
    "2.5.29.19": "basicConstraints",
    "2.5.29.20": "cRLNumber",
    "2.5.29.21": "cRLReason",
    "2.5.29.31": "cRLDistributionPoints",
    "2.5.29.32": "certificatePolicies",
    "2.5.29.35": "authorityKeyIdentifier",
    "2.5.29.37": "extKeyUsage",
    "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "1.3.6.1.5.5.7.3.17": "ipsecIKE",
    "1.3.6.1.5.5.7.48.1": "ocsp",
    "1.3.6.1.5.5.7.48.2": "caIssuers",
    # CMS (RFC 5652)
    "1.2.840.113549.1.7.1": "data",
    "1.2.840.113549.1.7.2": "signedData",
    "1.2.840.113549.1.7.3": "envelopedData",
    "2.16.840.1.101.3.4.1.2": "aes128-CBC",
    "2.16.840.1.101.3.4.1.42": "aes256-CBC",
    "1.3.14.3.2.7": "des-CBC",
    "1.2.840.113549.3.7": "des-EDE3-CBC",
    # SCEP (RFC 8894, 3.2.1) and CMS signed attributes
    **asn1schema.SCEP_ATTRIBUTES,
}


class DecodeError(ValueError):
    pass


class Truncated(DecodeError):
    """A TLV whose length runs past the end of its container: the header is whole."""

    def __init__(
        self, reason: str, tag_class: int, number: int, constructed: bool, length: int, header: int
    ) -> None:
        super().__init__(reason)
        self.header = (tag_class, number, constructed, length, header)


@dataclass
class Node:
    offset: int
    tag_class: str
    tag_number: int
    constructed: bool
    length: int
    header_length: int
    name: str
    value: str = ""
    children: list[Node] = field(default_factory=list)
    note: str = ""
    error: bool = False
    #: The component's name in its ASN.1 module (``header``, ``certReqId``), if known.
    component: str = ""
    #: The type's name (``PKIHeader``, ``PKIBody: ir``), if known.
    type_name: str = ""
    #: The content of a universal primitive (for names of values: PKIStatus, failInfo).
    content: bytes = field(default=b"", repr=False)

    @property
    def tag(self) -> str:
        if self.tag_class == "universal":
            return UNIVERSAL.get(self.tag_number, f"[UNIVERSAL {self.tag_number}]")
        if self.tag_class == "context":
            return f"[{self.tag_number}]"
        return f"[{self.tag_class.upper()} {self.tag_number}]"


def hex_preview(data: bytes, limit: int = HEX_LIMIT) -> str:
    text = data[:limit].hex(" ")
    if len(data) > limit:
        text += f" ... ({len(data)} bytes)"
    return text


def _truncate(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def read_header(data: bytes, pos: int, end: int) -> tuple[int, int, bool, int, int]:
    """(tag class index, tag number, constructed, content length, header length) at *pos*."""
    start = pos
    if pos >= end:
        raise DecodeError("no tag")
    first = data[pos]
    pos += 1
    tag_class = first >> 6
    constructed = bool(first & 0x20)
    number = first & 0x1F
    if number == 0x1F:  # X.690 8.1.2.4: high tag number, base 128
        number = 0
        while True:
            if pos >= end:
                raise DecodeError("truncated tag")
            byte = data[pos]
            pos += 1
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
            if number > 1 << 28:
                raise DecodeError("tag number too large")
    if pos >= end:
        raise DecodeError("no length")
    length = data[pos]
    pos += 1
    if length == 0x80:
        raise DecodeError("indefinite length (BER, not DER)")
    if length & 0x80:
        count = length & 0x7F
        if count > 4 or pos + count > end:
            raise DecodeError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise Truncated(
            f"length {length} runs past the end",
            tag_class,
            number,
            constructed,
            length,
            pos - start,
        )
    return tag_class, number, constructed, length, pos - start


def _oid(content: bytes) -> str:
    if not content or content[-1] & 0x80:
        raise DecodeError("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def _time(number: int, content: bytes) -> str:
    text = content.decode("ascii")
    try:
        if number == 23:  # RFC 5280 4.1.2.5.1: YYMMDDHHMMSSZ
            parsed = dt.datetime.strptime(text, "%y%m%d%H%M%SZ")
        else:
            parsed = dt.datetime.strptime(text.split(".")[0].rstrip("Z"), "%Y%m%d%H%M%S")
        return f"{parsed:%Y-%m-%d %H:%M:%S} UTC ({text})"
    except ValueError:
        return text


def _primitive_value(number: int, content: bytes) -> str:
    if number == 1:
        return "TRUE" if content and content[0] else "FALSE"
    if number in (2, 10):
        if not content:
            raise DecodeError("empty INTEGER")
        value = int.from_bytes(content, "big", signed=True)
        if len(content) > 8:
            return f"{hex_preview(content)} ({len(content) * 8}-bit)"
        return str(value)
    if number == 5:
        return ""
    if number == 6:
        oid = _oid(content)
        name = OID_NAMES.get(oid)
        return f"{oid} ({name})" if name else oid
    if number in _STRINGS:
        return _truncate(repr(content.decode("utf-8", errors="replace")))
    if number == 30:
        return _truncate(repr(content.decode("utf-16-be", errors="replace")))
    if number == 28:
        return _truncate(repr(content.decode("utf-32-be", errors="replace")))
    if number in (23, 24):
        return _time(number, content)
    if number == 3:
        if not content:
            raise DecodeError("empty BIT STRING")
        return (
            f"unused bits {content[0]}: {hex_preview(content[1:])}"
            if content[0]
            else hex_preview(content[1:])
        )
    return hex_preview(content)


class _Walker:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.count = 0

    def walk(self, pos: int, end: int, depth: int) -> list[Node]:
        nodes: list[Node] = []
        while pos < end:
            if self.count >= MAX_NODES:
                nodes.append(_junk(pos, self.data[pos:end], "too many elements; rest not shown"))
                break
            try:
                node, pos = self.node(pos, end, depth)
            except DecodeError as exc:
                nodes.append(_junk(pos, self.data[pos:end], str(exc)))
                break
            nodes.append(node)
        return nodes

    def node(self, pos: int, end: int, depth: int) -> tuple[Node, int]:
        truncated = ""
        try:
            cls, number, constructed, length, header = read_header(self.data, pos, end)
        except Truncated as exc:
            # A message cut short: show what is there, marked, rather than one hex blob.
            cls, number, constructed, declared, header = exc.header
            length = end - pos - header
            truncated = f"undecodable: truncated, {length} of {declared} bytes"
        self.count += 1
        start = pos + header
        content = self.data[start : start + length]
        node = Node(
            offset=pos,
            tag_class=CLASSES[cls],
            tag_number=number,
            constructed=constructed,
            length=length,
            header_length=header,
            name="",
        )
        node.name = node.tag
        if constructed:
            if depth >= MAX_DEPTH:
                node.value = hex_preview(content)
                node.note = "nesting too deep"
            else:
                node.children = self.walk(start, start + length, depth + 1)
        elif cls == 0:
            try:
                node.value = _primitive_value(number, content)
            except (DecodeError, UnicodeDecodeError, IndexError) as exc:
                node.value = hex_preview(content)
                node.note = f"undecodable: {exc}"
                node.error = True
            if number in (3, 4) and depth < MAX_DEPTH:
                inner_start = start + 1 if number == 3 else start
                if number != 3 or (content and content[0] == 0):
                    inner = self.encapsulated(inner_start, start + length, depth)
                    if inner:
                        node.children = inner
                        node.note = "encapsulates DER"
        else:
            node.value = hex_preview(content)
        if cls == 0 and not constructed:
            node.content = content[:4096]
            if number == 4 and not node.children and not node.note and _printable(content):
                node.note = f'"{content.decode("ascii")}"'  # a senderKID, a reference
        if truncated:
            node.note = truncated
            node.error = True
        return node, start + length

    def encapsulated(self, start: int, end: int, depth: int) -> list[Node]:
        """The DER inside an OCTET or BIT STRING, if the whole content is DER."""
        if end - start < 2:
            return []
        first = self.data[start]
        # Only a SEQUENCE, a SET, or a universal primitive we can name: random
        # bytes (nonces, MACs) rarely look like one that fills the string exactly.
        if first not in (0x30, 0x31) and not (
            first < 0x1F and first in UNIVERSAL and first not in (16, 17)
        ):
            return []
        try:
            _, _, _, length, header = read_header(self.data, start, end)
        except DecodeError:
            return []
        if start + header + length != end:
            return []
        saved = self.count
        nodes = self.walk(start, end, depth + 1)
        if any(_has_error(node) for node in nodes):
            self.count = saved
            return []
        return nodes


def _printable(content: bytes) -> bool:
    return 3 <= len(content) <= 128 and all(0x20 <= byte < 0x7F for byte in content)


def _has_error(node: Node) -> bool:
    return node.error or any(_has_error(child) for child in node.children)


def _junk(offset: int, data: bytes, reason: str) -> Node:
    return Node(
        offset=offset,
        tag_class="",
        tag_number=-1,
        constructed=False,
        length=len(data),
        header_length=0,
        name="undecodable",
        value=hex_preview(data),
        note=reason,
        error=True,
    )


#: Levels of the tree shown open at first (the message and its parts); below, a
#: click on a node opens it.
OPEN_LEVELS = 2


class Tree(list[Node]):
    """The decoded nodes; a template shows them as collapsible HTML (``{{ tree.html }}``)."""

    @property
    def html(self) -> SafeString:
        return render_html(self)


def decode(data: bytes) -> Tree:
    """The tree of *data*, named where the CMP or SCEP schema fits; never raises on
    malformed input (what cannot be named stays raw TLV)."""
    if not data:
        return Tree()
    nodes = Tree(_Walker(bytes(data)).walk(0, len(data), 0))
    try:
        asn1schema.name(nodes)
    except Exception:  # noqa: BLE001 - naming is a courtesy: the raw tree stays shown
        log.exception("Could not name an ASN.1 tree")
    return nodes


def render_text(nodes: list[Node], indent: int = 0) -> str:
    """The tree as indented text (for tests and plain views)."""
    lines: list[str] = []
    for node in nodes:
        text = "  " * indent + (f"{node.component}: " if node.component else "") + node.name
        if node.tag_class:
            text += f" (len {node.length})"
        if node.value:
            text += f": {node.value}"
        if node.type_name:
            text += f"  [{node.type_name}]"
        if node.note:
            text += f"  [{node.note}]"
        lines.append(text)
        if node.children:
            lines.append(render_text(node.children, indent + 1))
    return "\n".join(lines)


def _node_line(node: Node) -> str:
    parts = []
    if node.component:
        parts.append(f'<span class="asn1-field">{escape(node.component)}</span>')
    parts.append(f'<span class="asn1-tag">{escape(node.name)}</span>')
    if node.type_name:
        parts.append(f'<span class="asn1-type">{escape(node.type_name)}</span>')
    if node.tag_class:
        parts.append(f'<span class="muted asn1-pos">@{node.offset} len {node.length}</span>')
    if node.value:
        parts.append(f'<span class="asn1-value mono">{escape(node.value)}</span>')
    if node.note:
        parts.append(f'<em class="asn1-note">{escape(node.note)}</em>')
    return " ".join(parts)


def _html(nodes: list[Node], depth: int, out: list[str]) -> None:
    out.append('<ul class="asn1">')
    for node in nodes:
        css = ' class="undecodable"' if node.error else ""
        only = node.children[0] if len(node.children) == 1 else None
        if only is not None and not only.children and not node.error:
            # An EXPLICIT tag around one value (messageTime [0] GeneralizedTime): one line.
            css = ' class="undecodable"' if only.error else ""
            out.append(
                f'<li{css} data-depth="{depth}">{_node_line(node)} '
                f'<span class="asn1-inner">{_node_line(only)}</span></li>'
            )
            continue
        if node.children:
            state = " open" if depth < OPEN_LEVELS else ""
            out.append(
                f'<li{css}><details data-depth="{depth}"{state}><summary>{_node_line(node)}'
                "</summary>"
            )
            _html(node.children, depth + 1, out)
            out.append("</details></li>")
        else:
            out.append(f'<li{css} data-depth="{depth}">{_node_line(node)}</li>')
    out.append("</ul>")


def render_html(nodes: list[Node]) -> SafeString:
    """The tree as nested ``<details>``: the first :data:`OPEN_LEVELS` levels open,
    the rest collapsed (no script needed); every text escaped."""
    if not nodes:
        return mark_safe("")  # noqa: S308 - constant
    out: list[str] = ['<div class="asn1-root">']
    _html(nodes, 0, out)
    out.append("</div>")
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped
