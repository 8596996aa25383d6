"""A seeded fuzzer for SCEPServer: mutated SCEP requests against the in-memory backend.

The SCEP twin of ``tests/cmp/protocol/fuzz.py``.  Each message is handed to a
:class:`~scep.protocol.SCEPServer` over a fresh :class:`MemoryBackend` that has
issued one certificate (the signer of the RenewalReq seed, the target of
GetCert) and holds one transaction (the target of CertPoll).  Mutations reach
every layer of a pkiMessage (RFC 8894, 3):

* bytes: bit flips, random bytes, truncation, DER length lies of the whole
  message (the signature or the SignedData reader fails);
* the SignedData outside the signed attributes (certificates, digest
  algorithms, versions, the signer's identifier, the signature): no re-signing
  is needed for these to reach the signer checks;
* the signed attributes: messageType, transactionID, senderNonce values the
  standard does not allow (huge, empty, not a number, wrong type), attributes
  left out, an old signingTime, certificate floods, weak digests; signed again;
* the pkcsPKIEnvelope: its bytes mutated as above, then signed again, so that
  the mutation reaches the envelope reader and the decryption;
* the content inside the envelope (the CSR, IssuerAndSubject,
  IssuerAndSerialNumber): tree and byte mutations, enveloped to the CA and
  signed again, so that they reach the readers behind the signature check;
* GET: the message as base64 in the query, mangled, and unknown operations.

The keys and certificates are made once per run; the message choices and
mutations all come from the seed, so the same seed and count give the same
answers.  A message fails the run when ``handle()`` raises anything but
MalformedMessage, answers 5xx, logs an unexpected error with a traceback,
hands the adapter a value longer than it stores (scep/models.py), or answers
a PKIOperation with a CertRep that does not verify.

Run it longer than the test does::

    python -m tests.scep.protocol.fuzz --count 20000 --seed 1 --save /tmp/scep-fuzz
"""

from __future__ import annotations

import argparse
import base64
import datetime
import logging
import random
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.utils import CryptographyDeprecationWarning

from cmp.protocol import asn1 as der_tlv
from scep.protocol import MalformedMessage, MessageType, PKIStatus, SCEPResult, SCEPServer
from tests.cmp.protocol.fuzz import (
    Failure,
    Node,
    Report,
    flip_bits,
    length_lie,
    mutate_node,
    parse,
    print_report,
    random_bytes,
    truncate,
)

from .backend import LocalCA, MemoryBackend, Transaction
from .client import (
    CERT_POLL,
    GET_CERT,
    GET_CRL,
    PKCS_REQ,
    RENEWAL_REQ,
    Client,
    issuer_and_serial,
    issuer_and_subject,
    make_csr,
    read_reply,
    rsa_key,
    subject,
)

DER = serialization.Encoding.DER
CHALLENGE = "s3cret-Challenge"
#: What the adapter stores (scep/models.py SCEPTrace / SCEPTransaction).
MAX_TRANSACTION_ID = 255
MAX_TEXT = 512
MAX_TRACE = 64 * 1024
POLL_ID = "fuzz-poll-transaction"


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scep" / "fuzz"
#: The world's keys and certificates (made by ``--new-world``), so that a saved
#: failure is answered the same way by every later run.
WORLD = FIXTURES / "world"
LONG_AGO = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
FAR_AHEAD = datetime.datetime(2099, 1, 1, tzinfo=datetime.UTC)


def _certificate(
    subject_name: x509.Name, key, issuer: x509.Name, issuer_key, serial: int, *, ca: bool
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(LONG_AGO)
        .not_valid_after(FAR_AHEAD)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, True, True, False, False), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class World:
    """The CA, a client with an issued certificate, and what every message meets."""

    ca: LocalCA
    client: Client  # first enrolment: a self-signed signer
    renewing: Client  # signs with a certificate the CA issued
    issued: x509.Certificate

    NAMES = ("ca", "client", "renewing")

    @classmethod
    def create(cls) -> World:
        """New keys and certificates (``--new-world`` stores them)."""
        ca_key, client_key, key = rsa_key(), rsa_key(), rsa_key()
        ca_name = subject("SCEP Fuzz CA")
        ca_cert = _certificate(ca_name, ca_key, ca_name, ca_key, 1, ca=True)
        client_name = subject("SCEP SIGNER")
        client_cert = _certificate(client_name, client_key, client_name, client_key, 2, ca=False)
        issued = _certificate(subject("fgt100f.local"), key, ca_name, ca_key, 3, ca=False)
        return cls(
            LocalCA(ca_key, ca_cert, ca_key, ca_cert),
            Client(client_key, certificate=client_cert),
            Client(key, certificate=issued),
            issued,
        )

    @classmethod
    def load(cls, folder: Path = WORLD) -> World:
        """The stored world of the regression fixtures and the test."""
        keys, certificates = [], []
        for part in cls.NAMES:
            keys.append(
                serialization.load_pem_private_key((folder / f"{part}.key").read_bytes(), None)
            )
            certificates.append(
                x509.load_pem_x509_certificate((folder / f"{part}.pem").read_bytes())
            )
        (ca_key, client_key, key), (ca_cert, client_cert, issued) = keys, certificates
        return cls(
            LocalCA(ca_key, ca_cert, ca_key, ca_cert),
            Client(client_key, certificate=client_cert),
            Client(key, certificate=issued),
            issued,
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        parts = zip(
            self.NAMES,
            (self.ca.key, self.client.key, self.renewing.key),
            (self.ca.certificate, self.client.certificate, self.issued),
            strict=True,
        )
        for part, key, certificate in parts:
            (folder / f"{part}.key").write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            (folder / f"{part}.pem").write_bytes(
                certificate.public_bytes(serialization.Encoding.PEM)
            )

    @property
    def recipients(self) -> list[x509.Certificate]:
        return [r.certificate for r in self.ca.recipient_keys()]

    def server(self) -> SCEPServer:
        backend = MemoryBackend(self.ca, challenge=CHALLENGE)
        backend.certificates[self.issued.serial_number] = self.issued
        # A held PKCSReq, the one the CertPoll seed asks about; new requests are
        # held too (PENDING), GetCert answers with a certificate.
        backend.hold = True
        backend.transactions[POLL_ID] = Transaction(
            transaction_id=POLL_ID,
            message_type=MessageType.PKCSReq,
            key=b"",
            subject=subject("polled.example.net"),
            signer=self.client.certificate,  # type: ignore[arg-type]
            request=None,  # type: ignore[arg-type]
        )
        counter = iter(range(1, 1 << 62))
        return SCEPServer(backend, nonce=lambda: next(counter).to_bytes(16, "big"))


# ---------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    """What a valid request is made of, so that a mutation can rebuild it."""

    name: str
    message_type: int
    content: bytes  # the plaintext inside the pkcsPKIEnvelope
    renewal: bool = False  # signed with the issued certificate
    encrypt: bool = True
    transaction_id: str | None = None  # a known one (CertPoll), else a new one per message

    def client(self, world: World) -> Client:
        return world.renewing if self.renewal else world.client

    def build(self, world: World, rng: random.Random, **kw: object) -> bytes:
        client = self.client(world)
        kw.setdefault("transaction_id", self.transaction_id or f"fuzz-{rng.getrandbits(64):016x}")
        kw.setdefault("sender_nonce", rng.randbytes(16))
        content = kw.pop("content", self.content)
        return client.pki_message(
            self.message_type,
            content,  # type: ignore[arg-type]
            world.recipients,
            encrypt=bool(kw.pop("encrypt", self.encrypt)),
            **kw,  # type: ignore[arg-type]
        )


def seeds(world: World) -> list[Seed]:
    """One valid request of every message type the server answers."""
    ca_name = world.ca.certificate.subject
    csr = make_csr(
        world.client.key,
        subject("fgt100f.local"),
        challenge=CHALLENGE,
        sans=(x509.DNSName("fgt100f.local"),),
    )
    renewal_csr = make_csr(world.renewing.key, world.issued.subject)
    return [
        Seed("PKCSReq", PKCS_REQ, csr.public_bytes(DER)),
        Seed("RenewalReq", RENEWAL_REQ, renewal_csr.public_bytes(DER), renewal=True),
        Seed(
            "CertPoll",
            CERT_POLL,
            issuer_and_subject(ca_name, subject("polled.example.net")),
            transaction_id=POLL_ID,
        ),
        Seed("GetCert", GET_CERT, issuer_and_serial(ca_name, world.issued.serial_number)),
        Seed("GetCRL", GET_CRL, issuer_and_serial(ca_name, world.issued.serial_number)),
    ]


# ---------------------------------------------------------------------- mutations


class Mutator:
    """The mutations; each returns (description, how it is sent, message bytes)."""

    def __init__(self, rng: random.Random, world: World, corpus: list[Seed]) -> None:
        self.rng = rng
        self.world = world
        self.corpus = corpus
        self.built = {seed.name: seed.build(world, random.Random(0)) for seed in corpus}
        self.operations: list[tuple[int, Callable[[Seed], tuple[str, bytes]]]] = [
            (2, self.outer_bytes),
            (3, self.outer_tree),
            (4, self.attributes),
            (3, self.envelope),
            (6, self.content),
        ]

    def mutate(self, seed: Seed) -> tuple[str, bytes]:
        weights = [w for w, _ in self.operations]
        (operation,) = self.rng.choices([op for _, op in self.operations], weights)
        return operation(seed)

    # bytes and nodes of any DER value (the CMP fuzzer's mutations)

    def bytes_of(self, der: bytes) -> tuple[str, bytes]:
        """Bit flips, random bytes, truncation or a length lie."""
        if not der:
            return "unchanged (empty)", der
        operation = self.rng.choice((flip_bits, random_bytes, truncate, length_lie))
        try:
            return operation(self.rng, der)
        except der_tlv.Asn1Error:  # a length lie needs DER; cryptography's envelope may be BER
            return "unchanged (not DER)", der

    def tree_of(
        self, der: bytes, *, targets: list[Node] | None = None, tree: Node | None = None
    ) -> tuple[str, Node]:
        """A node of ``der`` (or of the parsed ``tree``; only below ``targets``, nodes of
        that tree, when given) changed by :func:`mutate_node`; the tree, or the
        replacement of its root."""
        tree = tree if tree is not None else parse(der)
        roots = targets if targets is not None else [tree]
        parent, index, node = self.rng.choice([entry for root in roots for entry in root.walk()])
        description, replacement = mutate_node(
            self.rng, node, lambda: parse(self.rng.choice(self.corpus).content)
        )
        if parent is None and targets is None:
            return f"{description} (whole)", replacement
        if parent is None:  # a target itself: found in the tree by identity
            parent = next(n for _, _, n in tree.walk() if any(c is node for c in n.children))
            index = next(i for i, c in enumerate(parent.children) if c is node)
        parent.children[index] = replacement
        return f"{description} (tag 0x{node.tag:02x})", tree

    # the mutations

    def outer_bytes(self, seed: Seed) -> tuple[str, bytes]:
        description, der = self.bytes_of(self.built[seed.name])
        return f"message: {description}", der

    def outer_tree(self, seed: Seed) -> tuple[str, bytes]:
        """The SignedData outside its signed attributes and content."""
        tree = parse(self.built[seed.name])
        signed = tree.children[1].children[0]  # ContentInfo [0] SignedData
        encap = signed.children[2]  # encapContentInfo: the content, kept
        signer_infos = signed.children[-1]
        targets = [c for c in signed.children if c is not encap and c is not signer_infos]
        for info in signer_infos.children:
            targets += [c for c in info.children if c.tag != 0xA0]  # not signedAttrs
        description, mutated = self.tree_of(b"", targets=targets, tree=tree)
        return f"SignedData: {description}", mutated.der()

    def attributes(self, seed: Seed) -> tuple[str, bytes]:
        """Signed attributes the standard does not allow, signed again."""
        rng = self.rng
        choice = rng.randrange(10)
        if choice == 0:
            value = rng.choice(("", "0", "-19", "3", "99", "x" * 300, "1" * 5000, " 19", "19\x00"))
            return f"messageType {value[:20]!r}", self._build_with_type(seed, value)
        if choice == 1:
            tid = rng.choice(("", " ", "x" * 256, "\x00\x07;*", "a" * 70_000))
            return f"transactionID of {len(tid)}", seed.build(self.world, rng, transaction_id=tid)
        if choice == 2:
            nonce = rng.randbytes(rng.choice((0, 1, 15, 17, 1000)))
            return f"senderNonce of {len(nonce)}", seed.build(self.world, rng, sender_nonce=nonce)
        if choice == 3:
            omit = rng.choice((("messageType",), ("transactionID",), ("senderNonce",)))
            return f"omit {omit[0]}", seed.build(self.world, rng, omit=omit)
        if choice == 4:
            when = rng.choice(
                (
                    datetime.datetime(1970, 1, 2, tzinfo=datetime.UTC),
                    datetime.datetime(2049, 12, 31, tzinfo=datetime.UTC),
                )
            )
            return f"signingTime {when:%Y}", seed.build(self.world, rng, signing_time=when)
        if choice == 5:
            count = rng.choice((5, 11, 300))
            certs = (self.world.issued,) * count
            return (
                f"{count} extra certificates",
                seed.build(self.world, rng, extra_certificates=certs),
            )
        if choice == 6:
            return "no signer certificate", seed.build(self.world, rng, include_signer=False)
        if choice == 7:
            return "not encrypted", seed.build(self.world, rng, encrypt=False)
        if choice == 8:
            tamper = rng.choice(("signature", "digest", "content"))
            return f"tamper {tamper}", seed.build(self.world, rng, tamper=tamper)
        return "no content", seed.build(self.world, rng, content=None)

    def _build_with_type(self, seed: Seed, message_type: str) -> bytes:
        client = seed.client(self.world)
        return client.pki_message(
            message_type,
            seed.content,
            self.world.recipients,
            transaction_id=f"fuzz-{self.rng.getrandbits(64):016x}",
            sender_nonce=self.rng.randbytes(16),
        )

    def envelope(self, seed: Seed) -> tuple[str, bytes]:
        """The pkcsPKIEnvelope mutated, then signed: reaches the envelope reader."""
        client = seed.client(self.world)
        envelope = client.envelope(seed.content, self.world.recipients)
        if self.rng.random() < 0.5:
            description, mutated = self.bytes_of(envelope)
        else:
            try:
                description, tree = self.tree_of(envelope)
                mutated = tree.der()
            except der_tlv.Asn1Error:  # cryptography's envelope in a form parse() skips
                description, mutated = self.bytes_of(envelope)
        return f"envelope: {description}", seed.build(
            self.world, self.rng, content=mutated, encrypt=False
        )

    def content(self, seed: Seed) -> tuple[str, bytes]:
        """The request inside the envelope mutated, enveloped and signed again."""
        if self.rng.random() < 0.3:
            description, mutated = self.bytes_of(seed.content)
        else:
            description, tree = self.tree_of(seed.content)
            mutated = tree.der()
        return f"content: {description}", seed.build(self.world, self.rng, content=mutated)


# ---------------------------------------------------------------------- running


class _Unexpected(logging.Handler):
    """Collects log records that carry a traceback: an error the checks did not foresee."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


def check(world: World, der: bytes, *, get: bool = False) -> tuple[str, str | None]:
    """Hand ``der`` to a fresh server (POST, or GET with base64): (outcome, what broke)."""
    server = world.server()
    handler = _Unexpected()
    logger = logging.getLogger("scep")
    logger.addHandler(handler)
    try:
        if get:
            message = base64.b64encode(der).decode("ascii")
            result = server.handle("PKIOperation", message=message)
        else:
            result = server.handle("PKIOperation", body=der)
    except MalformedMessage:
        return "MalformedMessage", None
    except Exception as exc:  # noqa: BLE001 - what the fuzzer is looking for
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return "exception", f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
    finally:
        logger.removeHandler(handler)
    if handler.records:
        record = handler.records[0]
        assert record.exc_info is not None
        exc_type = record.exc_info[0].__name__ if record.exc_info[0] else "?"
        return _outcome(result), f"traceback logged: {exc_type}: {record.getMessage()[:80]}"
    return _outcome(result), _broken(world, result)


def _outcome(result: SCEPResult) -> str:
    if result.status != 200:
        return f"HTTP {result.status}"
    if result.pki_status == PKIStatus.FAILURE and result.fail_info is not None:
        return result.fail_info.name
    return result.pki_status.name if result.pki_status is not None else "no pkiStatus"


def _broken(world: World, result: SCEPResult) -> str | None:
    if result.status >= 500:
        return f"HTTP {result.status}"
    if result.transaction_id is not None and len(result.transaction_id) > MAX_TRANSACTION_ID:
        return "transactionID longer than the adapter stores"
    if result.fail_text is not None and len(result.fail_text) > MAX_TEXT:
        return "failInfoText longer than the adapter stores"
    if sum(len(line) for line in result.trace) > MAX_TRACE:
        return "trace longer than the adapter stores"
    if result.pki_status == PKIStatus.FAILURE and result.fail_info is None:
        return "FAILURE without failInfo"
    try:
        reply = read_reply(result.body, ca_signer=world.ca.response_signer().certificate)
    except Exception as exc:  # noqa: BLE001 - the reply must be a CertRep that verifies
        return f"the CertRep does not verify: {type(exc).__name__}"
    if reply.recipient_nonce != (result.sender_nonce or b"") and result.sender_nonce:
        return "recipientNonce is not the request's senderNonce"
    return None


def run(
    count: int,
    seed: int,
    *,
    world: World | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Fuzz ``count`` messages with ``seed``; the same arguments give the same outcomes."""
    rng = random.Random(seed)
    world = world or World.load()
    corpus = seeds(world)
    mutator = Mutator(rng, world, corpus)
    report = Report()
    started = time.process_time()
    for base in corpus:  # the seeds themselves are answered without failure
        outcome, broken = check(world, mutator.built[base.name])
        report.outcomes[outcome] += 1
        if broken is not None:
            report.add_failure(Failure(broken, f"seed {base.name}", mutator.built[base.name], ""))
    for index in range(count):
        base = rng.choice(corpus)
        description, der = mutator.mutate(base)
        get = rng.random() < 0.1 and len(der) < 48 * 1024
        outcome, broken = check(world, der, get=get)
        report.count += 1
        report.outcomes[outcome] += 1
        if broken is not None:
            how = " (GET)" if get else ""
            report.add_failure(Failure(broken, f"{base.name}: {description}{how}", der, broken))
        if progress is not None and (index + 1) % 1000 == 0:
            progress(index + 1)
    report.seconds = time.process_time() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5_000, help="messages to send")
    parser.add_argument("--seed", type=int, default=1, help="seed of the messages and mutations")
    parser.add_argument("--save", type=Path, help="folder for the failing messages (DER)")
    parser.add_argument(
        "--new-world", type=Path, help="make new keys and certificates in this folder and stop"
    )
    args = parser.parse_args(argv)
    if args.new_world is not None:
        World.create().save(args.new_world)
        print(f"keys and certificates written to {args.new_world}")
        return 0
    warnings.simplefilter("error", CryptographyDeprecationWarning)
    logging.getLogger("scep").setLevel(logging.DEBUG)
    logging.getLogger("scep").propagate = False
    report = run(
        args.count,
        args.seed,
        progress=lambda n: print(f"  {n} messages", file=sys.stderr, flush=True),
    )
    return print_report(report, args.seed, args.save)


if __name__ == "__main__":
    sys.exit(main())
