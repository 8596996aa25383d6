"""A seeded fuzzer for CMPServer: mutated CMP messages against the in-memory backend.

Everything is derived from the seed (keys, certificates, nonces, salts, the
clock, each mutation), so a run is reproducible: the same seed and count give
the same messages and the same answers.  Each message is handed to a
:class:`~cmp.protocol.CMPServer` over a fresh :class:`MemoryBackend` that
holds an enrollment, an issued certificate, a transaction awaiting certConf and
one awaiting approval, so that every body type gets past the lookups.

Mutations: bit flips, random bytes, truncation, DER length lies (short, long,
indefinite, 5 to 8 length octets), oversize structures (freeText, generalInfo
and extraCerts floods, repeated elements, deep nesting, huge INTEGERs and
OIDs), and tree mutations (a node of the header or body replaced, retagged,
deleted, repeated or wrapped) that are re-protected afterwards, with the
shared secret or the device key, so that they get past the protection check.

A message fails the run when ``handle()`` raises anything but
MalformedMessage, answers with systemFailure, or hands the adapter a
transactionID, senderKID, body type or trace longer than it stores.

Run it longer than the test does::

    python -m tests.cmp.protocol.fuzz --count 100000 --seed 1 --save /tmp/fuzz-crashes
"""

from __future__ import annotations

import argparse
import collections
import datetime
import random
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from cmp.protocol import CMPServer, MalformedMessage, ServerResult, asn1, decode, protection
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo

from .backend import LocalCA, MemoryBackend, Transaction
from .client import Client

#: The clock of the fuzzed server and of every message's messageTime.
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
SECRET = b"fortinet1"
#: What the adapter stores (cmp/models.py): hex transactionID, senderKID, body type.
MAX_STORED_ID = 128
MAX_BODY_TYPE = 16
MAX_TRACE = 64 * 1024
MAX_TEXT = 512


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key(rng: random.Random) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(rng.getrandbits(250) + 1, ec.SECP256R1())


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    serial: int,
    *,
    ca: bool,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        # valid for long: the in-memory backend checks validity with the real clock
        .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2099, 1, 1, tzinfo=datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)


@dataclass
class World:
    """The CA, the enrolled device and the state every message meets, all from the seed."""

    ca: LocalCA
    device_key: ec.EllipticCurvePrivateKey
    device: x509.Certificate
    pending_id: bytes  # a transaction whose certificate awaits certConf
    pending_nonce: bytes
    approval_id: bytes  # a transaction waiting for approval (pollReq)

    @classmethod
    def create(cls, rng: random.Random) -> World:
        root_key = _key(rng)
        root = _certificate(
            _name("Fuzz Root CA"), root_key, _name("Fuzz Root CA"), root_key, 1, ca=True
        )
        device_key = _key(rng)
        device = _certificate(
            _name("fgt100f.local"), device_key, root.subject, root_key, 2, ca=False
        )
        ca = LocalCA(root_key, root, root_key, root)
        return cls(ca, device_key, device, rng.randbytes(16), rng.randbytes(16), rng.randbytes(16))

    def backend(self) -> MemoryBackend:
        backend = MemoryBackend(self.ca)
        backend.add_enrollment("fgt100f", SECRET.decode())
        backend.record(self.device, b"fgt100f")
        backend.transactions[self.pending_id] = Transaction(
            sender_kid=b"fgt100f",
            nonce=self.pending_nonce,
            certificate=self.device,
            sender=self.ca.issuing.subject,
        )
        backend.transactions[self.approval_id] = Transaction(
            sender_kid=b"fgt100f",
            nonce=None,
            certificate=None,
            sender=self.ca.issuing.subject,
            state="approval",
            polls_left=1_000_000,
        )
        return backend

    def server(self) -> CMPServer:
        counter = iter(range(1, 1 << 62))
        return CMPServer(
            self.backend(),
            clock=lambda: NOW,
            nonce=lambda: next(counter).to_bytes(16, "big"),
        )


# ---------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    """A valid request and how to protect it again after a mutation."""

    name: str
    der: bytes
    signed: bool  # False: MAC with SECRET; True: signed with the device key


def seeds(world: World, rng: random.Random) -> list[Seed]:
    """One valid request of every body type the server answers, MAC- and signature-protected."""

    def client(**changes: object) -> Client:
        salt = rng.randbytes(16)
        base = Client(
            secret=SECRET,
            transaction_id=rng.randbytes(16),
            sender_nonce=rng.randbytes(16),
            message_time=NOW,
            algorithm=protection.PBMParameters(salt, OID.sha256, 100, OID.hmac_sha1).algorithm(),
        )
        return base.but(**changes)

    new_key = _key(rng)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name("fgt100f.local"))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("fgt100f.local")]), False)
        .sign(new_key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    signed = client().signed(world.device_key, world.device)
    old_id = (world.device.issuer, world.device.serial_number)
    pbmac1 = protection.PBMAC1Parameters(
        rng.randbytes(16), 1000, 32, OID.hmac_with_sha256, OID.hmac_with_sha256
    ).algorithm()
    crl_status = asn1.tlv(
        0x30,
        asn1.tlv(
            0x30,
            asn1.tlv(0xA1, asn1.tlv(0x30, asn1.tlv(0xA4, world.ca.root.subject.public_bytes()))),
        ),
    )
    root_der = world.ca.root.public_bytes(serialization.Encoding.DER)
    mac = [
        ("ir", client().ir(new_key, sans=(x509.DNSName("fgt100f.local"),))),
        ("ir-implicit", client(implicit_confirm=True, pvno=3).ir(new_key)),
        ("ir-pbmac1", client(algorithm=pbmac1).ir(new_key)),
        ("cr", client().ir(new_key, body_type="cr")),
        ("p10cr", client().p10cr(csr)),
        ("kur", client().kur(new_key, None, old_cert_id=old_id)),
        ("rr", client().rr(world.device.issuer, world.device.serial_number, reason=1)),
        ("genm-empty", client().genm()),
        (
            "genm",
            client().genm(
                (OID.it_ca_certs, None),
                (OID.it_root_ca_cert, root_der),
                (OID.it_cert_req_template, None),
                (OID.it_sign_key_pair_types, None),
                (OID.it_crl_status_list, crl_status),
                ("1.3.6.1.5.5.7.4.4", None),
            ),
        ),
        (
            "certConf",
            client(transaction_id=world.pending_id, recip_nonce=world.pending_nonce).cert_conf(
                world.device
            ),
        ),
        ("pollReq", client(transaction_id=world.approval_id).poll_req(0)),
        ("error", client(transaction_id=world.pending_id).error("giving up")),
    ]
    sig = [
        ("signed-cr", signed.ir(new_key, body_type="cr")),
        ("signed-kur", signed.kur(new_key, None)),
        ("signed-rr", signed.rr(world.device.issuer, world.device.serial_number)),
        ("signed-genm", signed.genm((OID.it_ca_certs, None))),
    ]
    return [Seed(n, d, False) for n, d in mac] + [Seed(n, d, True) for n, d in sig]


# ---------------------------------------------------------------------- DER trees


@dataclass
class Node:
    """A TLV: constructed nodes hold children, primitive ones their content."""

    tag: int
    content: bytes = b""
    children: list[Node] = field(default_factory=list)
    #: The whole TLV, already encoded (a deep wrapping, built without recursion).
    raw: bytes | None = None

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def der(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.constructed:
            return asn1.tlv(self.tag, b"".join(c.der() for c in self.children))
        return asn1.tlv(self.tag, self.content)

    def walk(self) -> Iterator[tuple[Node | None, int, Node]]:
        """(parent, index, node) of this node and every node below it."""
        stack: list[tuple[Node | None, int, Node]] = [(None, 0, self)]
        while stack:
            parent, index, node = stack.pop()
            yield parent, index, node
            stack.extend((node, i, child) for i, child in enumerate(node.children))


def parse(der: bytes) -> Node:
    """The tree of valid DER (the seeds; high tags and long forms are not needed)."""

    def read(start: int, end: int) -> list[Node]:
        nodes = []
        pos = start
        while pos < end:
            tag, content, stop = asn1._read_tlv(der, pos, end)
            node = Node(tag)
            if tag & 0x20:
                node.children = read(content, stop)
            else:
                node.content = der[content:stop]
            nodes.append(node)
            pos = stop
        return nodes

    (root,) = read(0, len(der))
    return root


def tlv_offsets(der: bytes) -> list[int]:
    """Offsets of every TLV of valid DER (where a length can be falsified)."""
    out = []
    stack = [(0, len(der))]
    while stack:
        pos, end = stack.pop()
        while pos < end:
            tag, content, stop = asn1._read_tlv(der, pos, end)
            out.append(pos)
            if tag & 0x20:
                stack.append((content, stop))
            pos = stop
    return out


# ---------------------------------------------------------------------- mutations


class Mutator:
    """The mutations; each returns (description, message bytes)."""

    def __init__(self, rng: random.Random, world: World, corpus: list[Seed]) -> None:
        self.rng = rng
        self.world = world
        self.corpus = corpus
        self.operations: list[tuple[int, Callable[[Seed], tuple[str, bytes]]]] = [
            (3, self.flip_bits),
            (2, self.random_bytes),
            (2, self.truncate),
            (3, self.length_lie),
            (2, self.flood),
            (10, self.tree),
        ]

    def mutate(self, seed: Seed) -> tuple[str, bytes]:
        weights = [w for w, _ in self.operations]
        (operation,) = self.rng.choices([op for _, op in self.operations], weights)
        return operation(seed)

    # byte level: the protection no longer verifies; the pre-authentication path

    def flip_bits(self, seed: Seed) -> tuple[str, bytes]:
        return flip_bits(self.rng, seed.der)

    def random_bytes(self, seed: Seed) -> tuple[str, bytes]:
        return random_bytes(self.rng, seed.der)

    def truncate(self, seed: Seed) -> tuple[str, bytes]:
        return truncate(self.rng, seed.der)

    def length_lie(self, seed: Seed) -> tuple[str, bytes]:
        return length_lie(self.rng, seed.der)

    def flood(self, seed: Seed) -> tuple[str, bytes]:
        """The oversize shapes: freeText, generalInfo, extraCerts, repeated bodies."""
        tree = parse(seed.der)
        header, body = tree.children[0], tree.children[1]
        count = self.rng.choice((17, 100, 1000, 20_000))
        kind = self.rng.randrange(4)
        if kind == 0:
            texts = [Node(0x0C, b"")] * count
            _set_field(header, 0xA7, Node(0xA7, children=[Node(0x30, children=texts)]))
            what = "freeText"
        elif kind == 1:
            item = Node(0x30, children=[Node(0x06, b"\x2a\x03")])
            _set_field(header, 0xA8, Node(0xA8, children=[Node(0x30, children=[item] * count)]))
            what = "generalInfo"
        elif kind == 2:
            certificate = parse(self.world.device.public_bytes(serialization.Encoding.DER))
            tree.children = [c for c in tree.children if c.tag != 0xA1]
            count = min(count, 1_000)
            tree.children.append(Node(0xA1, children=[Node(0x30, children=[certificate] * count)]))
            what = "extraCerts"
        else:
            content = body.children[0]
            if content.constructed and content.children:
                content.children = content.children[:1] * min(count, 5000)
            what = "body items"
        return f"{what} x{count}", self.protect(seed, tree)

    # tree level: re-protected, so the mutation reaches the body readers

    def tree(self, seed: Seed) -> tuple[str, bytes]:
        tree = parse(seed.der)
        target = tree.children[self.rng.choice((0, 1, 1, 1))]  # header or (mostly) body
        nodes = list(target.walk())
        parent, index, node = self.rng.choice(nodes)
        description, replacement = mutate_node(
            self.rng, node, lambda: parse(self.rng.choice(self.corpus).der)
        )
        if parent is None:
            tree.children[tree.children.index(target)] = replacement
        else:
            parent.children[index] = replacement
        return f"tree: {description} (tag 0x{node.tag:02x})", self.protect(seed, tree)

    def protect(self, seed: Seed, tree: Node) -> bytes:
        """The message of ``tree`` with its protection made again (most of the time)."""
        header, body = tree.children[0].der(), tree.children[1].der()
        extra = b"".join(c.der() for c in tree.children[2:] if c.tag == 0xA1)
        if self.rng.random() < 0.1:
            return asn1.tlv(0x30, header + body + extra)  # protection dropped
        data = asn1.protected_part(header, body)
        try:
            if seed.signed:
                value = self.world.device_key.sign(
                    data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
                )
            else:
                fields = asn1.read_header(header)
                if fields.protection_alg is None:
                    raise ValueError("no protectionAlg")
                algorithm = protection.AlgorithmId(*fields.protection_alg)
                value = protection.compute_mac(algorithm, SECRET, data)
        except Exception:  # noqa: BLE001 - a mutated header: keep some protection bytes
            value = b"\x00" * 20
        protection_node = asn1.tlv(0xA0, asn1.tlv(0x03, b"\x00" + value))
        return asn1.tlv(0x30, header + body + protection_node + extra)


# ---------------------------------------------------------------------- mutations of any DER
# (the SCEP fuzzer, tests/scep/protocol/fuzz.py, uses them too)


def flip_bits(rng: random.Random, der: bytes) -> tuple[str, bytes]:
    data = bytearray(der)
    count = rng.choice((1, 1, 2, 4, 8))
    for _ in range(count):
        bit = rng.randrange(len(data) * 8)
        data[bit // 8] ^= 0x80 >> (bit % 8)
    return f"flip {count} bits", bytes(data)


def random_bytes(rng: random.Random, der: bytes) -> tuple[str, bytes]:
    data = bytearray(der)
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(len(data))] = rng.choice(
            (0x00, 0x7F, 0x80, 0x81, 0x84, 0xFF, rng.randrange(256))
        )
    return "random bytes", bytes(data)


def truncate(rng: random.Random, der: bytes) -> tuple[str, bytes]:
    cut = rng.randrange(len(der))
    if rng.random() < 0.5:
        return f"truncate at {cut}", der[:cut]
    stop = rng.randrange(cut, len(der))
    return f"drop {cut}..{stop}", der[:cut] + der[stop:]


def length_lie(rng: random.Random, der: bytes) -> tuple[str, bytes]:
    """One TLV of valid DER with a length that lies (Asn1Error if *der* is not DER)."""
    offset = rng.choice(tlv_offsets(der))
    _tag, content, stop = asn1._read_tlv(der, offset)
    length = stop - content
    choice = rng.randrange(6)
    if choice == 0:
        new_length = _length(max(length + rng.choice((-2, -1, 1, 2)), 0))
    elif choice == 1:
        new_length = b"\x80"  # indefinite: BER, not DER
    elif choice == 2:
        size = rng.randint(5, 8)  # more length octets than any message needs
        new_length = bytes([0x80 | size]) + length.to_bytes(size, "big")
    elif choice == 3:
        new_length = b"\x84\xff\xff\xff\xff"
    elif choice == 4:
        new_length = b"\x00"
    else:
        new_length = b"\x82" + length.to_bytes(2, "big")  # not the shortest form
    head = offset + 1
    length_octets = content - head
    return (
        f"length lie at {offset}",
        der[:head] + new_length + der[head + length_octets :],
    )


def mutate_node(rng: random.Random, node: Node, splice: Callable[[], Node]) -> tuple[str, Node]:
    """(description, what replaces *node*): new content, another tag, a deep wrapping, a
    node of another message (*splice* parses one), a huge INTEGER or OID, a child
    deleted or repeated, invalid UTF-8. *node* itself may be changed and returned."""
    choice = rng.randrange(9)
    if choice == 0:
        return "replace content", Node(node.tag, _content(rng, node))
    if choice == 1:
        replacement = Node(_tag(rng), node.content, node.children)
        if replacement.constructed != node.constructed:
            replacement = Node(replacement.tag, node.der() if not node.constructed else b"")
        return "retag", replacement
    if choice == 2:
        depth = rng.choice((2, 16, 40, 200, 2000))
        wrapped = node.der()
        for _ in range(depth):
            wrapped = asn1.tlv(0x30, wrapped)
        return f"wrap {depth} deep", Node(0x30, raw=wrapped)
    if choice == 3:
        other = splice()
        return "splice", rng.choice([n for _, _, n in other.walk()])
    if choice == 4:
        return "huge integer", Node(0x02, b"\x7f" + b"\xff" * rng.choice((9, 20, 2000, 4000)))
    if choice == 5:
        return "huge OID", Node(0x06, b"\x2a" + b"\xff" * rng.choice((10, 70, 3000)) + b"\x01")
    if choice == 6 and node.children:
        del node.children[rng.randrange(len(node.children))]
        return "delete a child", node
    if choice == 7 and node.children:
        times = rng.choice((2, 17, 300, 3000))
        child = rng.choice(node.children)
        position = node.children.index(child)
        node.children[position : position + 1] = [child] * times
        return f"repeat a child x{times}", node
    return "invalid UTF-8", Node(0x0C, b"\xff\xfe\xc3")


def _content(rng: random.Random, node: Node) -> bytes:
    choice = rng.randrange(5)
    if choice == 0:
        return b""
    if choice == 1:
        return rng.randbytes(rng.choice((1, 8, 129, 300, 70_000)))
    if choice == 2:
        return b"\x00" * rng.choice((1, 17, 129))
    if choice == 3:
        return node.content[: len(node.content) // 2]
    return bytes(b ^ 0xFF for b in node.content)


def _tag(rng: random.Random) -> int:
    return rng.choice(
        (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0C, 0x13, 0x16, 0x17, 0x18, 0x30, 0x31)
        + tuple(range(0x80, 0x8A))
        + tuple(range(0xA0, 0xBB))
    )


def _length(value: int) -> bytes:
    if value < 0x80:
        return bytes([value])
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _set_field(header: Node, tag: int, node: Node) -> None:
    """Put an optional header field in its place (fields are in tag order)."""
    header.children = [c for c in header.children if c.tag != tag]
    position = next(
        (i for i, c in enumerate(header.children) if i >= 3 and c.tag > tag), len(header.children)
    )
    header.children.insert(position, node)


# ---------------------------------------------------------------------- running


@dataclass(frozen=True)
class Failure:
    """A message that broke an invariant, with where and how."""

    signature: str
    description: str
    der: bytes
    detail: str


@dataclass
class Report:
    count: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: dict[str, Failure] = field(default_factory=dict)
    seconds: float = 0.0

    def add_failure(self, failure: Failure) -> None:
        known = self.failures.get(failure.signature)
        if known is None or len(failure.der) < len(known.der):
            self.failures[failure.signature] = failure


def check(world: World, der: bytes) -> tuple[str, str | None]:
    """Hand ``der`` to a fresh server: (outcome, what broke or None)."""
    server = world.server()
    try:
        result = server.handle(der)
    except MalformedMessage:
        return "MalformedMessage", None
    except Exception as exc:  # noqa: BLE001 - what the fuzzer is looking for
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return "exception", f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
    return _outcome(result), _broken(result)


def _outcome(result: ServerResult) -> str:
    if result.error is not None:
        return result.error.failure.name
    return f"ok {result.body_type}"


def _broken(result: ServerResult) -> str | None:
    if result.error is not None and result.error.failure == FailureInfo.systemFailure:
        return f"systemFailure: {result.error.text}"
    if result.transaction_id is not None and len(result.transaction_id) > MAX_STORED_ID:
        return "transactionID longer than the adapter stores"
    if result.sender_kid is not None and len(result.sender_kid) > MAX_STORED_ID:
        return "senderKID longer than the adapter stores"
    if result.error is not None and len(result.error.text) > MAX_TEXT:
        return "status text longer than the adapter stores"
    if len(result.body_type) > MAX_BODY_TYPE:
        return "body type longer than the adapter stores"
    if sum(len(line) for line in result.trace) > MAX_TRACE:
        return "trace longer than the adapter stores"
    try:
        decode.decode(result.body)
    except MalformedMessage as exc:
        return f"the response does not decode: {exc}"
    return None


def run(count: int, seed: int, *, progress: Callable[[int], None] | None = None) -> Report:
    """Fuzz ``count`` messages with ``seed``; the same arguments give the same report."""
    rng = random.Random(seed)
    world = World.create(rng)
    corpus = seeds(world, rng)
    mutator = Mutator(rng, world, corpus)
    report = Report()
    started = time.process_time()
    for _seed in corpus:  # the seeds themselves must be answered without failure
        outcome, broken = check(world, _seed.der)
        report.outcomes[outcome] += 1
        if broken is not None:
            report.add_failure(Failure(broken, f"seed {_seed.name}", _seed.der, broken))
    for index in range(count):
        base = rng.choice(corpus)
        description, der = mutator.mutate(base)
        outcome, broken = check(world, der)
        report.count += 1
        report.outcomes[outcome] += 1
        if broken is not None:
            report.add_failure(Failure(broken, f"{base.name}: {description}", der, broken))
        if progress is not None and (index + 1) % 1000 == 0:
            progress(index + 1)
    report.seconds = time.process_time() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="messages to send")
    parser.add_argument("--seed", type=int, default=1, help="seed of keys, messages, mutations")
    parser.add_argument("--save", type=Path, help="folder for the failing messages (DER)")
    args = parser.parse_args(argv)
    # As in the test settings: a deprecation warning from cryptography is a failure.
    warnings.simplefilter("error", CryptographyDeprecationWarning)
    report = run(
        args.count,
        args.seed,
        progress=lambda n: print(f"  {n} messages", file=sys.stderr, flush=True),
    )
    return print_report(report, args.seed, args.save)


def print_report(report: Report, seed: int, save: Path | None) -> int:
    """Print what a run found (saving each failing message to *save*); the exit code."""
    print(f"{report.count} mutated messages, seed {seed}, {report.seconds:.1f} s CPU")
    for outcome, number in report.outcomes.most_common():
        print(f"  {number:7d}  {outcome}")
    if not report.failures:
        print("no failure")
        return 0
    print(f"{len(report.failures)} kinds of failure:")
    for number, failure in enumerate(report.failures.values(), 1):
        where = ""
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            path = save / f"failure-{number}.der"
            path.write_bytes(failure.der)
            where = f" -> {path}"
        print(f"  {failure.signature}  [{failure.description}, {len(failure.der)} bytes]{where}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
