"""A small CMP client for the unit tests: builds requests, reads responses.

It can build what a well-behaved client sends and every kind of broken
request the server must refuse.  Requests are built with pyasn1 here (test
tooling only; the protocol layer itself keeps pyasn1 inside ``asn1.py``).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field, replace

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import univ
from pyasn1_alt_modules import rfc4211, rfc5280, rfc9810

from cmp.protocol import asn1, errors, protection
from cmp.protocol.asn1 import OID
from cmp.protocol.messages import AlgorithmId


def pbm(owf: str = OID.sha256, mac: str = OID.hmac_sha1, iterations: int = 500) -> AlgorithmId:
    return protection.PBMParameters(os.urandom(16), owf, iterations, mac).algorithm()


def pbmac1(iterations: int = 1000, prf: str = OID.hmac_with_sha256) -> AlgorithmId:
    return protection.PBMAC1Parameters(
        os.urandom(16), iterations, 32, prf, OID.hmac_with_sha256
    ).algorithm()


def _sig_oid(key) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return OID.ed25519
    if isinstance(key, ed448.Ed448PrivateKey):
        return OID.ed448
    return OID.sha256_with_rsa if isinstance(key, rsa.RSAPrivateKey) else OID.ecdsa_with_sha256


def pss(hash_name: str = "sha256", salt_length: int | None = None) -> AlgorithmId:
    """id-RSASSA-PSS with MGF1 of the same hash (RFC 4056)."""
    hash_oid = {"sha224": OID.sha224, "sha256": OID.sha256, "sha384": OID.sha384}.get(
        hash_name, OID.sha512
    )
    size = {"sha224": 28, "sha256": 32, "sha384": 48}.get(hash_name, 64)
    return AlgorithmId(
        OID.rsassa_pss,
        asn1.encode_rsassa_pss_params(hash_oid, size if salt_length is None else salt_length),
    )


def _sign(key, data: bytes, algorithm: AlgorithmId | None = None) -> bytes:
    """Deterministic signatures where the scheme allows (ECDSA per RFC 6979, EdDSA)."""
    if algorithm is None:
        algorithm = AlgorithmId(_sig_oid(key))
    try:
        scheme = protection.signature_scheme(algorithm)
    except errors.BadAlg:
        return b"\x00" * 64  # an algorithm the server refuses: any bytes
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key.sign(data)
    assert scheme.hash is not None
    if isinstance(key, rsa.RSAPrivateKey):
        if scheme.pss:
            return key.sign(
                data, padding.PSS(padding.MGF1(scheme.hash()), scheme.salt_length), scheme.hash()
            )
        return key.sign(data, padding.PKCS1v15(), scheme.hash())
    if scheme.prehash:
        digest = hashes.Hash(scheme.hash())
        digest.update(data)
        return key.sign(digest.finalize(), ec.ECDSA(utils.Prehashed(scheme.hash())))
    return key.sign(data, ec.ECDSA(scheme.hash(), deterministic_signing=True))


@dataclass
class Client:
    """Header fields of the next request; ``replace()`` to vary one."""

    secret: bytes = b"fortinet1"
    sender_kid: bytes | None = b"fgt100f"
    pvno: int = 2
    sender: x509.Name = field(
        default_factory=lambda: x509.Name.from_rfc4514_string("CN=fgt100f.local")
    )
    transaction_id: bytes | None = field(default_factory=lambda: os.urandom(16))
    sender_nonce: bytes | None = field(default_factory=lambda: os.urandom(16))
    recip_nonce: bytes | None = None
    message_time: datetime.datetime | None = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )
    implicit_confirm: bool = False
    #: A sender GeneralName other than a directoryName: its DER replaces the sender's.
    raw_sender: bytes | None = None
    #: Further generalInfo items: (infoType OID, DER of infoValue or None).
    general_info: tuple[tuple[str, bytes | None], ...] = ()
    #: None: unprotected; "wrong": a MAC with a wrong password.
    algorithm: AlgorithmId | None = field(default_factory=pbm)
    wrong_mac: bool = False
    #: Signature protection: the key, and extraCerts (protection certificate first).
    sign_key: object | None = None
    extra_certs: tuple[x509.Certificate, ...] = ()
    bad_signature: bool = False

    def signed(
        self,
        key,
        certificate: x509.Certificate,
        *chain: x509.Certificate,
        algorithm: AlgorithmId | None = None,
    ) -> Client:
        """Signature protection with ``key``; sender and senderKID from the certificate."""
        try:
            kid = certificate.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value.digest
        except x509.ExtensionNotFound:
            kid = None
        return replace(
            self,
            sign_key=key,
            extra_certs=(certificate, *chain),
            algorithm=algorithm or AlgorithmId(_sig_oid(key)),
            sender=certificate.subject,
            sender_kid=kid,
        )

    def but(self, **changes) -> Client:
        """This client with some fields changed.  A later message of a transaction
        (``recip_nonce`` given) gets a fresh senderNonce, as real clients send
        (RFC 9810, 5.1.1), unless one is given."""
        if "recip_nonce" in changes and "sender_nonce" not in changes:
            changes["sender_nonce"] = os.urandom(16)
        return replace(self, **changes)

    # ------------------------------------------------------------------ messages

    def finish(self, body_der: bytes) -> bytes:
        algorithm = self.algorithm
        header = asn1.encode_header(
            pvno=self.pvno,
            sender_der=self.sender.public_bytes(),
            recipient_der=asn1.null_dn_der(),
            message_time=self.message_time,
            protection_alg_der=(
                asn1.encode_algorithm_identifier(algorithm.oid, algorithm.parameters)
                if algorithm
                else None
            ),
            sender_kid=self.sender_kid,
            transaction_id=self.transaction_id,
            sender_nonce=self.sender_nonce,
            recip_nonce=self.recip_nonce,
            general_info=(((OID.implicit_confirm, b"\x05\x00"),) if self.implicit_confirm else ())
            + self.general_info,
        )
        if self.raw_sender is not None:
            sender = asn1.tlv(0xA4, self.sender.public_bytes())
            _tag, start, end = asn1._read_tlv(header, 0)
            content = header[start:end].replace(sender, self.raw_sender, 1)
            header = asn1.tlv(0x30, content)
        mac = None
        if self.sign_key is not None:
            data = asn1.protected_part(header, body_der)
            signature = _sign(
                self.sign_key, data + (b"x" if self.bad_signature else b""), algorithm
            )
            extra = tuple(c.public_bytes(serialization.Encoding.DER) for c in self.extra_certs)
            return asn1.encode_message(header, body_der, signature, extra)
        if algorithm is not None:
            secret = self.secret + (b"x" if self.wrong_mac else b"")
            try:
                mac = protection.compute_mac(
                    algorithm, secret, asn1.protected_part(header, body_der)
                )
            except errors.CMPError:
                mac = b"\x00" * 32  # an algorithm the server refuses: any bytes
        return asn1.encode_message(
            header,
            body_der,
            mac,
            tuple(c.public_bytes(serialization.Encoding.DER) for c in self.extra_certs),
        )

    def kur(self, key, subject: str | None = None, *, old_cert_id=None, **kwargs) -> bytes:
        """A kur; ``old_cert_id`` = (issuer Name, serial) adds the oldCertID control."""
        body = rfc9810.PKIBody()
        msg = cert_req_msg(key, subject, old_cert_id=old_cert_id, **kwargs)
        body["kur"].append(msg)
        return self.finish(encoder.encode(body))

    def rr(
        self,
        issuer: x509.Name | None,
        serial: int | None,
        *,
        reason: int | None = None,
        count: int = 1,
        reasons: tuple[int, ...] = (),
        version: int | None = None,
        subject: x509.Name | None = None,
        public_key=None,
        entry_extensions: tuple[tuple[str, bytes], ...] = (),
    ) -> bytes:
        """An rr; ``reasons`` adds further reasonCode extensions, ``entry_extensions``
        other crlEntryDetails (OID, DER value); ``version``, ``subject`` and
        ``public_key`` fill those certDetails fields."""
        details = rfc9810.RevDetails()
        template = details["certDetails"]
        if version is not None:
            template["version"] = version
        if issuer is not None:
            template["issuer"]["rdnSequence"] = decoder.decode(
                issuer.public_bytes(), asn1Spec=rfc5280.Name()
            )[0]["rdnSequence"]
        if serial is not None:
            template["serialNumber"] = serial
        if subject is not None:
            template["subject"]["rdnSequence"] = decoder.decode(
                subject.public_bytes(), asn1Spec=rfc5280.Name()
            )[0]["rdnSequence"]
        if public_key is not None:
            spki = decoder.decode(
                public_key.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
                asn1Spec=rfc5280.SubjectPublicKeyInfo(),
            )[0]
            template["publicKey"]["algorithm"] = spki["algorithm"]
            template["publicKey"]["subjectPublicKey"] = spki["subjectPublicKey"]
        codes = ((reason,) if reason is not None else ()) + reasons
        for code in codes:
            extension = rfc5280.Extension()
            extension["extnID"] = univ.ObjectIdentifier(OID.reason_code)
            extension["extnValue"] = encoder.encode(univ.Enumerated(code))
            details["crlEntryDetails"].append(extension)
        for oid, value in entry_extensions:
            extension = rfc5280.Extension()
            extension["extnID"] = univ.ObjectIdentifier(oid)
            extension["extnValue"] = value
            details["crlEntryDetails"].append(extension)
        body = rfc9810.PKIBody()
        for _ in range(count):
            body["rr"].append(details)
        return self.finish(encoder.encode(body))

    def genm(self, *items: tuple[str, bytes | None]) -> bytes:
        content = b"".join(
            asn1.tlv(0x30, asn1.encode_oid(oid) + (value or b"")) for oid, value in items
        )
        return self.finish(asn1.tlv(0xB5, asn1.tlv(0x30, content)))

    def poll_req(self, *cert_req_ids: int) -> bytes:
        entries = b"".join(asn1.tlv(0x30, asn1.encode_integer(i)) for i in cert_req_ids)
        return self.finish(asn1.tlv(0xB9, asn1.tlv(0x30, entries)))

    def ir(
        self,
        key,
        subject: str | None = "CN=fgt100f.local",
        *,
        body_type: str = "ir",
        cert_req_id: int = 0,
        pop: str = "signature",
        sans: tuple[x509.GeneralName, ...] = (),
        count: int = 1,
        include_key: bool = True,
        extensions: tuple[x509.Extension, ...] = (),
        validity: tuple[datetime.datetime | None, datetime.datetime | None] | None = None,
        pop_algorithm: AlgorithmId | None = None,
        pop_key=None,
    ) -> bytes:
        body = rfc9810.PKIBody()
        messages = body[body_type]
        for _ in range(count):
            messages.append(
                cert_req_msg(
                    key,
                    subject,
                    cert_req_id=cert_req_id,
                    pop=pop,
                    sans=sans,
                    include_key=include_key,
                    extensions=extensions,
                    validity=validity,
                    pop_algorithm=pop_algorithm,
                    pop_key=pop_key,
                )
            )
        return self.finish(encoder.encode(body))

    def p10cr(self, csr: x509.CertificateSigningRequest | bytes) -> bytes:
        der = csr if isinstance(csr, bytes) else csr.public_bytes(serialization.Encoding.DER)
        return self.finish(asn1.tlv(0xA4, der))

    def cert_conf(
        self,
        certificate: x509.Certificate,
        *,
        accepted: bool = True,
        text: str | None = None,
        cert_hash: bytes | None = None,
        hash_alg: str | None = None,
        cert_req_id: int = 0,
        failure: int | None = None,
        count: int = 1,
    ) -> bytes:
        if cert_hash is None:
            algorithm = (
                protection.hash_for_oid(hash_alg)
                if hash_alg
                else protection.certificate_hash(certificate)
            )
            digest = hashes.Hash(algorithm)
            digest.update(certificate.public_bytes(serialization.Encoding.DER))
            cert_hash = digest.finalize()
        status = rfc9810.CertStatus()
        status["certHash"] = cert_hash
        status["certReqId"] = cert_req_id
        if not accepted or text or failure is not None:
            status["statusInfo"]["status"] = 0 if accepted else 2
            if text:
                status["statusInfo"]["statusString"].append(text)
            if failure is not None:
                status["statusInfo"]["failInfo"] = tuple([0] * failure + [1])
        if hash_alg:
            status["hashAlg"]["algorithm"] = univ.ObjectIdentifier(hash_alg)
        body = rfc9810.PKIBody()
        for _ in range(count):
            body["certConf"].append(status)
        return self.finish(encoder.encode(body))

    def error(self, text: str = "client gave up") -> bytes:
        return self.finish(asn1.encode_error_body(status=2, status_text=text, failure=2))

    def simple(self, body_type: str) -> bytes:
        """A minimal body of another type: genm, rr, pollReq, kur (empty), pkiconf."""
        bodies = {
            # GenMsgContent ::= SEQUENCE OF InfoTypeAndValue (id-it-caCerts, no value)
            "genm": asn1.tlv(
                0xB5,
                asn1.tlv(0x30, asn1.tlv(0x30, asn1.tlv(0x06, bytes.fromhex("2b06010505070411")))),
            ),
            # PollReqContent ::= SEQUENCE OF SEQUENCE { certReqId INTEGER }
            "pollReq": asn1.tlv(0xB9, asn1.tlv(0x30, asn1.tlv(0x30, b"\x02\x01\x00"))),
            # RevReqContent ::= SEQUENCE OF RevDetails { certDetails CertTemplate }
            "rr": asn1.tlv(0xAB, asn1.tlv(0x30, asn1.tlv(0x30, asn1.tlv(0x30, b"")))),
            "pkiconf": asn1.encode_pkiconf_body(),
        }
        return self.finish(bodies[body_type])


def cert_req_msg(
    key,
    subject: str | None,
    *,
    cert_req_id: int = 0,
    pop: str = "signature",
    sans: tuple[x509.GeneralName, ...] = (),
    include_key: bool = True,
    old_cert_id: tuple[x509.Name, int] | None = None,
    extensions: tuple[x509.Extension, ...] = (),
    validity: tuple[datetime.datetime | None, datetime.datetime | None] | None = None,
    pop_algorithm: AlgorithmId | None = None,
    pop_key=None,
):
    """One CertReqMsg; ``pop_key`` / ``pop_algorithm`` sign the POP with another key or
    algorithm than the template's."""
    msg = rfc4211.CertReqMsg()
    msg["certReq"]["certReqId"] = cert_req_id
    template = msg["certReq"]["certTemplate"]
    if subject is not None:
        name_der = x509.Name.from_rfc4514_string(subject).public_bytes()
        template["subject"]["rdnSequence"] = decoder.decode(name_der, asn1Spec=rfc5280.Name())[0][
            "rdnSequence"
        ]
    if include_key:
        spki_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        spki = decoder.decode(spki_der, asn1Spec=rfc5280.SubjectPublicKeyInfo())[0]
        template["publicKey"]["algorithm"] = spki["algorithm"]
        template["publicKey"]["subjectPublicKey"] = spki["subjectPublicKey"]
    if validity is not None:
        for name, moment in zip(("notBefore", "notAfter"), validity, strict=True):
            if moment is not None:
                template["validity"][name]["generalTime"] = moment.strftime("%Y%m%d%H%M%SZ")
    requested = list(extensions)
    if sans:
        requested.insert(
            0,
            x509.Extension(
                x509.SubjectAlternativeName.oid, False, x509.SubjectAlternativeName(list(sans))
            ),
        )
    for ext in requested:
        extension = rfc5280.Extension()
        extension["extnID"] = univ.ObjectIdentifier(ext.oid.dotted_string)
        if ext.critical:
            extension["critical"] = True
        extension["extnValue"] = ext.value.public_bytes()
        template["extensions"].append(extension)
    if old_cert_id is not None:
        cert_id = rfc4211.CertId()
        cert_id["issuer"]["directoryName"]["rdnSequence"] = decoder.decode(
            old_cert_id[0].public_bytes(), asn1Spec=rfc5280.Name()
        )[0]["rdnSequence"]
        cert_id["serialNumber"] = old_cert_id[1]
        control = rfc5280.AttributeTypeAndValue()
        control["type"] = univ.ObjectIdentifier(OID.reg_ctrl_old_cert_id)
        control["value"] = encoder.encode(cert_id)
        msg["certReq"]["controls"].append(control)
    if pop == "raVerified":
        msg["popo"]["raVerified"] = msg["popo"]["raVerified"].clone(b"")
    elif pop in ("signature", "bad"):
        data = encoder.encode(msg["certReq"])
        signer = pop_key or key
        algorithm = pop_algorithm or AlgorithmId(_sig_oid(signer))
        signature = _sign(signer, data, algorithm)
        if pop == "bad":
            signature = _sign(signer, data + b"tampered", algorithm)
        signing_key = msg["popo"]["signature"]
        signing_key["algorithmIdentifier"]["algorithm"] = univ.ObjectIdentifier(algorithm.oid)
        if algorithm.parameters is not None:
            signing_key["algorithmIdentifier"]["parameters"] = algorithm.parameters
        signing_key["signature"] = univ.BitString.fromOctetString(signature)
    return msg


# ---------------------------------------------------------------------- responses


@dataclass(frozen=True)
class Response:
    """The parts of a response the tests look at."""

    der: bytes
    body_type: str
    pvno: int
    sender: x509.Name | None
    recipient: x509.Name | None
    sender_kid: bytes | None
    transaction_id: bytes | None
    sender_nonce: bytes | None
    recip_nonce: bytes | None
    implicit_confirm: bool
    algorithm: AlgorithmId | None
    protected_part: bytes
    protection: bytes | None
    extra_certs: tuple[x509.Certificate, ...]
    # error / CertResponse status
    status: int | None = None
    status_text: str | None = None
    failure_bits: tuple[int, ...] = ()
    cert_req_id: int | None = None
    certificate: x509.Certificate | None = None
    ca_pubs: tuple[x509.Certificate, ...] = ()

    @property
    def failure(self) -> int | None:
        return self.failure_bits[0] if len(self.failure_bits) == 1 else None

    def mac_ok(self, secret: bytes = b"fortinet1") -> bool:
        if self.algorithm is None or self.protection is None:
            return False
        try:
            protection.verify_mac(self.algorithm, secret, self.protected_part, self.protection)
        except Exception:
            return False
        return True


def _cert(value) -> x509.Certificate:
    der = encoder.encode(value)
    if der[0] == 0xA0:  # certificate [0] EXPLICIT CMPCertificate
        der = asn1.body_content_der(der)
    return x509.load_der_x509_certificate(der)


def read_response(der: bytes) -> Response:
    from cmp.protocol import messages

    request = messages.decode(der)  # the header parser is the same for both directions
    message = decoder.decode(der, asn1Spec=rfc9810.PKIMessage())[0]
    body = message["body"]
    name = body.getName()
    extra: dict = {}

    def status_info(info):
        texts = asn1.optional(info, "statusString")
        fail = asn1.optional(info, "failInfo")
        return {
            "status": int(info["status"]),
            "status_text": "; ".join(str(t) for t in texts) if texts is not None else None,
            "failure_bits": asn1.bit_numbers(fail) if fail is not None else (),
        }

    if name == "error":
        extra = status_info(body["error"]["pKIStatusInfo"])
    elif name == "rp":
        extra = status_info(body["rp"]["status"][0])
    elif name in ("ip", "cp", "kup"):
        rep = body[name]
        response = rep["response"][0]
        extra = status_info(response["status"])
        extra["cert_req_id"] = int(response["certReqId"])
        ckp = asn1.optional(response, "certifiedKeyPair")
        if ckp is not None:
            extra["certificate"] = _cert(ckp["certOrEncCert"]["certificate"])
        ca_pubs = asn1.optional(rep, "caPubs")
        if ca_pubs is not None:
            extra["ca_pubs"] = tuple(_cert(c) for c in ca_pubs)
    header = request.header
    return Response(
        der=der,
        body_type=name,
        pvno=header.pvno,
        sender=header.sender,
        recipient=header.recipient,
        sender_kid=header.sender_kid,
        transaction_id=header.transaction_id,
        sender_nonce=header.sender_nonce,
        recip_nonce=header.recip_nonce,
        implicit_confirm=header.implicit_confirm,
        algorithm=header.protection_alg,
        protected_part=request.protected_part,
        protection=request.protection,
        extra_certs=request.extra_certs,
        **extra,
    )
