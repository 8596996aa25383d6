"""Names for the debug page's ASN.1 tree: the CMP and SCEP structures it knows.

:mod:`cmp.gui.asn1tree` reads any DER into a tree of tag-length-value nodes;
this module lays a schema over that tree and names what fits: the component
(``header``, ``certReqId``, ``senderNonce``) and the type (``PKIHeader``,
``PKIBody: ir``, ``CertTemplate``). The schema follows the ASN.1 modules of
RFC 9810 (CMP, EXPLICIT TAGS), RFC 4211 (CRMF, IMPLICIT TAGS), RFC 5280
(certificates), RFC 5652 (CMS) and RFC 8894 (SCEP), written as small
declarations rather than decoded with pyasn1, so that a malformed or truncated
message keeps its raw nodes and is named as far as its shape fits: a node that
does not match the component expected is left as it is, and naming stops in
that SEQUENCE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cmp.protocol.errors import FailureInfo

if TYPE_CHECKING:
    from cmp.gui.asn1tree import Node

# Universal tag numbers.
BOOLEAN, INTEGER, BIT_STRING, OCTET_STRING, NULL, OID = 1, 2, 3, 4, 5, 6
UTF8, SEQUENCE, SET, GENERALIZED_TIME = 12, 16, 17, 24


@dataclass(frozen=True)
class Type:
    """An ASN.1 type: its name, its universal tag (None: any tag, or a CHOICE), and
    its components (SEQUENCE/SET), its element (SEQUENCE OF/SET OF) or its
    alternatives (CHOICE, by context tag)."""

    name: str = ""
    tag: int | None = None
    fields: tuple[Field, ...] = ()
    of: Type | None = None
    of_name: str = ""
    choice: dict[int, Alt] = field(default_factory=dict)
    #: Names the node's value or refines the type from the node (an OID's meaning).
    hook: Callable[[Node], None] | None = None


@dataclass(frozen=True)
class Field:
    """A component: its name, its type, its context tag if tagged (``explicit``:
    the tag wraps the type's own TLV; otherwise it replaces the type's tag)."""

    name: str
    type: Type | Callable[[], Type]
    tag: int | None = None
    explicit: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Alt:
    name: str
    type: Type | Callable[[], Type]
    explicit: bool = True


def _resolve(spec: Type | Callable[[], Type]) -> Type:
    return spec if isinstance(spec, Type) else spec()


def apply(node: Node, spec: Type | Callable[[], Type], component: str = "") -> None:
    """Name *node* (and what fits below it) as *spec*, the component *component*."""
    spec = _resolve(spec)
    if component and not node.component:
        node.component = component
    if spec.choice:
        _apply_choice(node, spec)
        return
    if spec.name and not node.type_name:
        node.type_name = spec.name
    if spec.hook is not None:
        spec.hook(node)
    if spec.of is not None:
        for child in node.children:
            if child.error and not child.tag_class:
                break
            apply(child, spec.of, spec.of_name)
    elif spec.fields:
        _apply_fields(node.children, spec.fields)


def _apply_choice(node: Node, spec: Type) -> None:
    if node.tag_class != "context" or node.tag_number not in spec.choice:
        return
    alt = spec.choice[node.tag_number]
    node.type_name = f"{spec.name}: {alt.name}" if spec.name else alt.name
    if alt.explicit:
        if node.children:
            apply(node.children[0], alt.type, alt.name)
    else:
        inner = _resolve(alt.type)
        saved = node.type_name
        node.type_name = ""
        apply(node, inner)
        node.type_name = f"{saved} ({inner.name})" if inner.name else saved


def matches(node: Node, item: Field) -> bool:
    if item.tag is not None:
        return node.tag_class == "context" and node.tag_number == item.tag
    spec = _resolve(item.type)
    if spec.choice:
        return node.tag_class == "context" and node.tag_number in spec.choice
    if spec.tag is None:
        return bool(node.tag_class)
    return node.tag_class == "universal" and node.tag_number == spec.tag


def _apply_fields(children: list[Node], fields: tuple[Field, ...]) -> None:
    index = 0
    for item in fields:
        if index >= len(children):
            return
        node = children[index]
        if not matches(node, item):
            if item.optional:
                continue
            return  # the shape does not fit: the rest stays unnamed
        if item.tag is not None and item.explicit:
            node.component = item.name
            if node.children:
                apply(node.children[0], item.type)
        else:
            apply(node, item.type, item.name)
        index += 1


# --- Values ------------------------------------------------------------------------------

PKI_STATUS = {
    0: "accepted",
    1: "grantedWithMods",
    2: "rejection",
    3: "waiting",
    4: "revocationWarning",
    5: "revocationNotification",
    6: "keyUpdateWarning",
}

# RFC 9810, 5.2.3: PKIFailureInfo bits.
#: PKIFailureInfo bit names by bit number (RFC 9810, 5.2.3), as the protocol layer has them.
FAILURE_BITS = tuple(bit.name for bit in sorted(FailureInfo))


def _integer_of(node: Node) -> int | None:
    if node.tag_class != "universal" or node.tag_number != INTEGER or not node.content:
        return None
    return int.from_bytes(node.content, "big", signed=True)


def _name_status(node: Node) -> None:
    value = _integer_of(node)
    if value in PKI_STATUS:
        node.note = PKI_STATUS[value]


def _name_pvno(node: Node) -> None:
    value = _integer_of(node)
    if value in (1, 2, 3):
        node.note = {1: "cmp1999", 2: "cmp2000", 3: "cmp2021"}[value]


def failure_names(content: bytes) -> list[str]:
    """The failInfo bits set in a BIT STRING's content (unused-bits octet first)."""
    if len(content) < 2:
        return []
    names = []
    for index, byte in enumerate(content[1:]):
        for bit in range(8):
            if byte & (0x80 >> bit):
                number = index * 8 + bit
                names.append(
                    FAILURE_BITS[number] if number < len(FAILURE_BITS) else f"bit {number}"
                )
    return names


def _name_failure(node: Node) -> None:
    if node.tag_number == BIT_STRING and node.content:
        names = failure_names(node.content)
        if names:
            node.note = ", ".join(names)


# --- PKIX (RFC 5280) ---------------------------------------------------------------------

ANY = Type()
INT = Type(tag=INTEGER)
OCTETS = Type(tag=OCTET_STRING)
BITS = Type(tag=BIT_STRING)
OBJECT_ID = Type(tag=OID)
GTIME = Type(tag=GENERALIZED_TIME)
BOOL = Type(tag=BOOLEAN)

ALGORITHM = Type(
    "AlgorithmIdentifier",
    SEQUENCE,
    (Field("algorithm", OBJECT_ID), Field("parameters", ANY, optional=True)),
)
ATTRIBUTE_TYPE_AND_VALUE = Type(
    "AttributeTypeAndValue", SEQUENCE, (Field("type", OBJECT_ID), Field("value", ANY))
)
RDN = Type("RelativeDistinguishedName", SET, of=ATTRIBUTE_TYPE_AND_VALUE)
NAME = Type("Name", SEQUENCE, of=RDN)
GENERAL_NAME = Type(
    "GeneralName",
    choice={
        0: Alt("otherName", ANY, explicit=False),
        1: Alt("rfc822Name", ANY, explicit=False),
        2: Alt("dNSName", ANY, explicit=False),
        4: Alt("directoryName", NAME),
        6: Alt("uniformResourceIdentifier", ANY, explicit=False),
        7: Alt("iPAddress", ANY, explicit=False),
        8: Alt("registeredID", ANY, explicit=False),
    },
)
SPKI = Type(
    "SubjectPublicKeyInfo",
    SEQUENCE,
    (Field("algorithm", ALGORITHM), Field("subjectPublicKey", BITS)),
)
EXTENSION = Type(
    "Extension",
    SEQUENCE,
    (
        Field("extnID", OBJECT_ID),
        Field("critical", BOOL, optional=True),
        Field("extnValue", OCTETS),
    ),
)
EXTENSIONS = Type("Extensions", SEQUENCE, of=EXTENSION)
VALIDITY = Type("Validity", SEQUENCE, (Field("notBefore", ANY), Field("notAfter", ANY)))
TBS_CERTIFICATE = Type(
    "TBSCertificate",
    SEQUENCE,
    (
        Field("version", INT, tag=0, explicit=True, optional=True),
        Field("serialNumber", INT),
        Field("signature", ALGORITHM),
        Field("issuer", NAME),
        Field("validity", VALIDITY),
        Field("subject", NAME),
        Field("subjectPublicKeyInfo", SPKI),
        Field("issuerUniqueID", ANY, tag=1, optional=True),
        Field("subjectUniqueID", ANY, tag=2, optional=True),
        Field("extensions", EXTENSIONS, tag=3, explicit=True, optional=True),
    ),
)
CERTIFICATE = Type(
    "Certificate",
    SEQUENCE,
    (
        Field("tbsCertificate", TBS_CERTIFICATE),
        Field("signatureAlgorithm", ALGORITHM),
        Field("signatureValue", BITS),
    ),
)
CERTIFICATES = Type("", SEQUENCE, of=CERTIFICATE, of_name="CMPCertificate")
CERTIFICATION_REQUEST = Type(
    "CertificationRequest",
    SEQUENCE,
    (
        Field(
            "certificationRequestInfo",
            Type(
                "CertificationRequestInfo",
                SEQUENCE,
                (
                    Field("version", INT),
                    Field("subject", NAME),
                    Field("subjectPKInfo", SPKI),
                    Field("attributes", ANY, tag=0, optional=True),
                ),
            ),
        ),
        Field("signatureAlgorithm", ALGORITHM),
        Field("signature", BITS),
    ),
)

# --- CRMF (RFC 4211, IMPLICIT TAGS) ---------------------------------------------------------

OPTIONAL_VALIDITY = Type(
    "OptionalValidity",
    SEQUENCE,
    (
        Field("notBefore", ANY, tag=0, explicit=True, optional=True),
        Field("notAfter", ANY, tag=1, explicit=True, optional=True),
    ),
)
CERT_TEMPLATE = Type(
    "CertTemplate",
    SEQUENCE,
    (
        Field("version", INT, tag=0, optional=True),
        Field("serialNumber", INT, tag=1, optional=True),
        Field("signingAlg", ALGORITHM, tag=2, optional=True),
        Field("issuer", NAME, tag=3, explicit=True, optional=True),  # Name is a CHOICE
        Field("validity", OPTIONAL_VALIDITY, tag=4, optional=True),
        Field("subject", NAME, tag=5, explicit=True, optional=True),
        Field("publicKey", SPKI, tag=6, optional=True),
        Field("issuerUID", ANY, tag=7, optional=True),
        Field("subjectUID", ANY, tag=8, optional=True),
        Field("extensions", EXTENSIONS, tag=9, optional=True),
    ),
)
CONTROLS = Type("Controls", SEQUENCE, of=ATTRIBUTE_TYPE_AND_VALUE)
CERT_REQUEST = Type(
    "CertRequest",
    SEQUENCE,
    (
        Field("certReqId", INT),
        Field("certTemplate", CERT_TEMPLATE),
        Field("controls", CONTROLS, optional=True),
    ),
)
POPO_SIGNING_KEY = Type(
    "POPOSigningKey",
    SEQUENCE,
    (
        Field("poposkInput", ANY, tag=0, optional=True),
        Field("algorithmIdentifier", ALGORITHM),
        Field("signature", BITS),
    ),
)
PROOF_OF_POSSESSION = Type(
    "ProofOfPossession",
    choice={
        0: Alt("raVerified", ANY, explicit=False),
        1: Alt("signature", POPO_SIGNING_KEY, explicit=False),
        2: Alt("keyEncipherment", ANY),  # POPOPrivKey is a CHOICE: explicit
        3: Alt("keyAgreement", ANY),
    },
)
CERT_REQ_MSG = Type(
    "CertReqMsg",
    SEQUENCE,
    (
        Field("certReq", CERT_REQUEST),
        Field("popo", PROOF_OF_POSSESSION, optional=True),
        Field("regInfo", CONTROLS, optional=True),
    ),
)
CERT_REQ_MESSAGES = Type("CertReqMessages", SEQUENCE, of=CERT_REQ_MSG, of_name="CertReqMsg")

# --- CMP (RFC 9810, EXPLICIT TAGS) -----------------------------------------------------------

FREE_TEXT = Type("PKIFreeText", SEQUENCE, of=Type(tag=UTF8))
INFO_TYPE_AND_VALUE = Type(
    "InfoTypeAndValue",
    SEQUENCE,
    (Field("infoType", OBJECT_ID), Field("infoValue", ANY, optional=True)),
)
PKI_HEADER = Type(
    "PKIHeader",
    SEQUENCE,
    (
        Field("pvno", Type(tag=INTEGER, hook=_name_pvno)),
        Field("sender", GENERAL_NAME),
        Field("recipient", GENERAL_NAME),
        Field("messageTime", GTIME, tag=0, explicit=True, optional=True),
        Field("protectionAlg", ALGORITHM, tag=1, explicit=True, optional=True),
        Field("senderKID", OCTETS, tag=2, explicit=True, optional=True),
        Field("recipKID", OCTETS, tag=3, explicit=True, optional=True),
        Field("transactionID", OCTETS, tag=4, explicit=True, optional=True),
        Field("senderNonce", OCTETS, tag=5, explicit=True, optional=True),
        Field("recipNonce", OCTETS, tag=6, explicit=True, optional=True),
        Field("freeText", FREE_TEXT, tag=7, explicit=True, optional=True),
        Field(
            "generalInfo",
            Type("", SEQUENCE, of=INFO_TYPE_AND_VALUE),
            tag=8,
            explicit=True,
            optional=True,
        ),
    ),
)
PKI_STATUS_INFO = Type(
    "PKIStatusInfo",
    SEQUENCE,
    (
        Field("status", Type("PKIStatus", INTEGER, hook=_name_status)),
        Field("statusString", FREE_TEXT, optional=True),
        Field("failInfo", Type("PKIFailureInfo", BIT_STRING, hook=_name_failure), optional=True),
    ),
)
CERT_OR_ENC_CERT = Type(
    "CertOrEncCert",
    choice={0: Alt("certificate", CERTIFICATE), 1: Alt("encryptedCert", ANY)},
)
CERTIFIED_KEY_PAIR = Type(
    "CertifiedKeyPair",
    SEQUENCE,
    (
        Field("certOrEncCert", CERT_OR_ENC_CERT),
        Field("privateKey", ANY, tag=0, explicit=True, optional=True),
        Field("publicationInfo", ANY, tag=1, explicit=True, optional=True),
    ),
)
CERT_RESPONSE = Type(
    "CertResponse",
    SEQUENCE,
    (
        Field("certReqId", INT),
        Field("status", PKI_STATUS_INFO),
        Field("certifiedKeyPair", CERTIFIED_KEY_PAIR, optional=True),
        Field("rspInfo", OCTETS, optional=True),
    ),
)
CERT_REP_MESSAGE = Type(
    "CertRepMessage",
    SEQUENCE,
    (
        Field("caPubs", CERTIFICATES, tag=1, explicit=True, optional=True),
        Field("response", Type("", SEQUENCE, of=CERT_RESPONSE, of_name="CertResponse")),
    ),
)
CERT_STATUS = Type(
    "CertStatus",
    SEQUENCE,
    (
        Field("certHash", OCTETS),
        Field("certReqId", INT),
        Field("statusInfo", PKI_STATUS_INFO, optional=True),
        Field("hashAlg", ALGORITHM, tag=0, explicit=True, optional=True),
    ),
)
CERT_CONFIRM_CONTENT = Type("CertConfirmContent", SEQUENCE, of=CERT_STATUS, of_name="CertStatus")
ERROR_MSG_CONTENT = Type(
    "ErrorMsgContent",
    SEQUENCE,
    (
        Field("pKIStatusInfo", PKI_STATUS_INFO),
        Field("errorCode", INT, optional=True),
        Field("errorDetails", FREE_TEXT, optional=True),
    ),
)
REV_DETAILS = Type(
    "RevDetails",
    SEQUENCE,
    (Field("certDetails", CERT_TEMPLATE), Field("crlEntryDetails", EXTENSIONS, optional=True)),
)
CERT_ID = Type("CertId", SEQUENCE, (Field("issuer", GENERAL_NAME), Field("serialNumber", INT)))
REV_REP_CONTENT = Type(
    "RevRepContent",
    SEQUENCE,
    (
        Field("status", Type("", SEQUENCE, of=PKI_STATUS_INFO, of_name="PKIStatusInfo")),
        Field("revCerts", Type("", SEQUENCE, of=CERT_ID), tag=0, explicit=True, optional=True),
        Field("crls", ANY, tag=1, explicit=True, optional=True),
    ),
)
GEN_CONTENT = Type("", SEQUENCE, of=INFO_TYPE_AND_VALUE, of_name="InfoTypeAndValue")
POLL_REQ_CONTENT = Type(
    "PollReqContent", SEQUENCE, of=Type("", SEQUENCE, (Field("certReqId", INT),))
)
POLL_REP_CONTENT = Type(
    "PollRepContent",
    SEQUENCE,
    of=Type(
        "",
        SEQUENCE,
        (
            Field("certReqId", INT),
            Field("checkAfter", INT),
            Field("reason", FREE_TEXT, optional=True),
        ),
    ),
)


def _body(name: str, spec: Type = ANY) -> Alt:
    return Alt(name, spec)


PKI_BODY = Type(
    "PKIBody",
    choice={
        0: _body("ir", CERT_REQ_MESSAGES),
        1: _body("ip", CERT_REP_MESSAGE),
        2: _body("cr", CERT_REQ_MESSAGES),
        3: _body("cp", CERT_REP_MESSAGE),
        4: _body("p10cr", CERTIFICATION_REQUEST),
        5: _body("popdecc"),
        6: _body("popdecr"),
        7: _body("kur", CERT_REQ_MESSAGES),
        8: _body("kup", CERT_REP_MESSAGE),
        9: _body("krr", CERT_REQ_MESSAGES),
        10: _body("krp"),
        11: _body("rr", Type("RevReqContent", SEQUENCE, of=REV_DETAILS, of_name="RevDetails")),
        12: _body("rp", REV_REP_CONTENT),
        13: _body("ccr", CERT_REQ_MESSAGES),
        14: _body("ccp", CERT_REP_MESSAGE),
        15: _body("ckuann"),
        16: _body("cann"),
        17: _body("rann"),
        18: _body("crlann"),
        19: _body("pkiconf", Type("PKIConfirmContent", NULL)),
        20: _body("nested"),
        21: _body("genm", Type("GenMsgContent", SEQUENCE, of=INFO_TYPE_AND_VALUE)),
        22: _body("genp", Type("GenRepContent", SEQUENCE, of=INFO_TYPE_AND_VALUE)),
        23: _body("error", ERROR_MSG_CONTENT),
        24: _body("certConf", CERT_CONFIRM_CONTENT),
        25: _body("pollReq", POLL_REQ_CONTENT),
        26: _body("pollRep", POLL_REP_CONTENT),
    },
)
PKI_MESSAGE = Type(
    "PKIMessage",
    SEQUENCE,
    (
        Field("header", PKI_HEADER),
        Field("body", PKI_BODY),
        Field("protection", Type("PKIProtection", BIT_STRING), tag=0, explicit=True, optional=True),
        Field("extraCerts", CERTIFICATES, tag=1, explicit=True, optional=True),
    ),
)

# --- CMS (RFC 5652) and SCEP (RFC 8894) ------------------------------------------------------

SCEP_ATTRIBUTES = {
    "2.16.840.1.113733.1.9.2": "messageType",
    "2.16.840.1.113733.1.9.3": "pkiStatus",
    "2.16.840.1.113733.1.9.4": "failInfo",
    "2.16.840.1.113733.1.9.5": "senderNonce",
    "2.16.840.1.113733.1.9.6": "recipientNonce",
    "2.16.840.1.113733.1.9.7": "transactionID",
    "2.16.840.1.113733.1.9.8": "extensionReq",
    "1.3.6.1.4.1.311.20.2": "certificateTemplate",
    "1.2.840.113549.1.9.3": "contentType",
    "1.2.840.113549.1.9.4": "messageDigest",
    "1.2.840.113549.1.9.5": "signingTime",
    "1.2.840.113549.1.9.15": "smimeCapabilities",
}
SCEP_MESSAGE_TYPES = {
    "3": "CertRep",
    "17": "RenewalReq",
    "19": "PKCSReq",
    "20": "CertPoll",
    "21": "GetCert",
    "22": "GetCRL",
}
SCEP_PKI_STATUS = {"0": "SUCCESS", "2": "FAILURE", "3": "PENDING"}
SCEP_FAIL_INFO = {
    "0": "badAlg",
    "1": "badMessageCheck",
    "2": "badRequest",
    "3": "badTime",
    "4": "badCertId",
}
_SCEP_VALUES = {
    "messageType": SCEP_MESSAGE_TYPES,
    "pkiStatus": SCEP_PKI_STATUS,
    "failInfo": SCEP_FAIL_INFO,
}


def _oid_of(node: Node) -> str:
    return node.value.split(" ", 1)[0] if node.tag_number == OID else ""


def _name_attribute(node: Node) -> None:
    """An Attribute named by its OID: ``messageType``, ``transactionID``, ..."""
    if len(node.children) < 2:
        return
    name = SCEP_ATTRIBUTES.get(_oid_of(node.children[0]))
    if not name:
        return
    node.component = name
    meanings = _SCEP_VALUES.get(name)
    for value in node.children[1].children:
        if meanings and value.content:
            text = value.content.decode("ascii", errors="replace")
            if text in meanings:
                value.note = meanings[text]


ATTRIBUTE = Type(
    "Attribute",
    SEQUENCE,
    (Field("attrType", OBJECT_ID), Field("attrValues", Type("", SET, of=ANY))),
    hook=_name_attribute,
)
ISSUER_AND_SERIAL = Type(
    "IssuerAndSerialNumber", SEQUENCE, (Field("issuer", NAME), Field("serialNumber", INT))
)
SIGNER_INFO = Type(
    "SignerInfo",
    SEQUENCE,
    (
        Field("version", INT),
        Field("sid", ISSUER_AND_SERIAL),  # or [0] subjectKeyIdentifier: then unnamed below
        Field("digestAlgorithm", ALGORITHM),
        Field("signedAttrs", Type("SignedAttributes", of=ATTRIBUTE), tag=0, optional=True),
        Field("signatureAlgorithm", ALGORITHM),
        Field("signature", OCTETS),
        Field("unsignedAttrs", Type("", of=ATTRIBUTE), tag=1, optional=True),
    ),
)


def _name_econtent(node: Node) -> None:
    """SCEP: the eContent holds a ContentInfo (the pkcsPKIEnvelope); the walker
    shows it when it parses."""
    for child in node.children:
        apply(child, CONTENT_INFO)


ENCAPSULATED_CONTENT_INFO = Type(
    "EncapsulatedContentInfo",
    SEQUENCE,
    (
        Field("eContentType", OBJECT_ID),
        Field(
            "eContent",
            Type(tag=OCTET_STRING, hook=_name_econtent),
            tag=0,
            explicit=True,
            optional=True,
        ),
    ),
)
SIGNED_DATA = Type(
    "SignedData",
    SEQUENCE,
    (
        Field("version", INT),
        Field("digestAlgorithms", Type("", SET, of=ALGORITHM)),
        Field("encapContentInfo", ENCAPSULATED_CONTENT_INFO),
        Field("certificates", Type("", of=CERTIFICATE), tag=0, optional=True),
        Field("crls", ANY, tag=1, optional=True),
        Field("signerInfos", Type("", SET, of=SIGNER_INFO, of_name="SignerInfo")),
    ),
)
KEY_TRANS_RECIPIENT_INFO = Type(
    "KeyTransRecipientInfo",
    SEQUENCE,
    (
        Field("version", INT),
        Field("rid", ISSUER_AND_SERIAL),
        Field("keyEncryptionAlgorithm", ALGORITHM),
        Field("encryptedKey", OCTETS),
    ),
)
ENVELOPED_DATA = Type(
    "EnvelopedData",
    SEQUENCE,
    (
        Field("version", INT),
        Field("originatorInfo", ANY, tag=0, optional=True),
        Field("recipientInfos", Type("", SET, of=KEY_TRANS_RECIPIENT_INFO)),
        Field(
            "encryptedContentInfo",
            Type(
                "EncryptedContentInfo",
                SEQUENCE,
                (
                    Field("contentType", OBJECT_ID),
                    Field("contentEncryptionAlgorithm", ALGORITHM),
                    Field("encryptedContent", ANY, tag=0, optional=True),
                ),
            ),
        ),
        Field("unprotectedAttrs", ANY, tag=1, optional=True),
    ),
)
CONTENT_TYPES = {
    "1.2.840.113549.1.7.2": SIGNED_DATA,
    "1.2.840.113549.1.7.3": ENVELOPED_DATA,
}


def _name_content(node: Node) -> None:
    """ContentInfo: the content's type follows its contentType OID."""
    if len(node.children) < 2 or not node.children[1].children:
        return
    spec = CONTENT_TYPES.get(_oid_of(node.children[0]))
    if spec is not None:
        apply(node.children[1].children[0], spec)


CONTENT_INFO = Type(
    "ContentInfo",
    SEQUENCE,
    (Field("contentType", OBJECT_ID), Field("content", ANY, tag=0, explicit=True)),
    hook=_name_content,
)


def _is_content_info(node: Node) -> bool:
    return (
        len(node.children) == 2
        and _oid_of(node.children[0]) in CONTENT_TYPES
        and node.children[1].tag_class == "context"
        and node.children[1].tag_number == 0
    )


def name(nodes: list[Node]) -> None:
    """Name a decoded message: a PKIMessage (CMP), a ContentInfo (SCEP), a
    certificate or a PKCS#10 request; anything else stays as it is."""
    if len(nodes) != 1 or nodes[0].tag_class != "universal" or nodes[0].tag_number != SEQUENCE:
        return
    root = nodes[0]
    parts = root.children
    if _is_content_info(root):
        apply(root, CONTENT_INFO)
    elif len(parts) >= 2 and parts[0].tag_number == SEQUENCE and parts[1].tag_class == "context":
        apply(root, PKI_MESSAGE)
    elif len(parts) == 3 and parts[0].children and parts[0].children[0].tag_class == "context":
        apply(root, CERTIFICATE)
    elif len(parts) == 3 and parts[0].tag_number == SEQUENCE:
        apply(root, CERTIFICATION_REQUEST)
