"""The SCEP fuzzer (tests/scep/protocol/fuzz.py) with a fixed seed, and the shapes it found.

The long run is ``python -m tests.scep.protocol.fuzz --count 20000 --seed N``
(docs/fuzzing.md).
"""

from __future__ import annotations

import random

import pytest

from scep.protocol import FailInfo, MalformedMessage, PKIStatus

from . import fuzz
from .client import read_reply

#: Messages a fuzzing run turned into a logged traceback or an exception, with
#: the answer each gets now (None: HTTP 400, the message cannot be answered).
FOUND: dict[str, tuple[FailInfo, str] | None] = {
    # CryptographyDeprecationWarning (a future error): a certificate in the
    # SignedData with a serial number that is not positive (RFC 5280, 4.1.2.2)
    "getcrl-certificate-with-a-negative-serial.der": None,
    # IndexError: a certificate of the SignedData whose TBSCertificate is cut short
    "getcert-certificate-with-a-short-tbs.der": None,
    # ValueError from cryptography verifying a CSR whose key does not parse
    "pkcsreq-csr-with-an-unreadable-key.der": (
        FailInfo.badRequest,
        "The CSR's public key cannot be read.",
    ),
    "renewalreq-csr-with-a-truncated-key.der": (
        FailInfo.badRequest,
        "The CSR's public key cannot be read.",
    ),
}


@pytest.fixture(scope="module")
def world():
    return fuzz.World.load()


def test_every_found_shape_is_kept():
    assert sorted(p.name for p in fuzz.FIXTURES.glob("*.der")) == sorted(FOUND)


@pytest.mark.parametrize("name", sorted(FOUND))
def test_found_shape_is_answered_with_its_failure(world, name, caplog):
    der = (fuzz.FIXTURES / name).read_bytes()
    if FOUND[name] is None:
        with pytest.raises(MalformedMessage):
            world.server().handle("PKIOperation", body=der)
        assert not [r for r in caplog.records if r.exc_info]
        return
    failure, text = FOUND[name]
    result = world.server().handle("PKIOperation", body=der)
    reply = read_reply(result.body, ca_signer=world.ca.certificate)
    assert (reply.status, reply.fail_info, reply.fail_text) == (
        str(int(PKIStatus.FAILURE)),
        str(int(failure)),
        text,
    )
    assert fuzz._broken(world, result) is None
    assert not [r for r in caplog.records if r.exc_info]


def test_seeds_are_valid_requests(world):
    """Every seed gets past every check: mutations start from real requests."""
    corpus = fuzz.seeds(world)
    mutator = fuzz.Mutator(random.Random(0), world, corpus)
    assert {seed.name for seed in corpus} == {
        "PKCSReq",
        "RenewalReq",
        "CertPoll",
        "GetCert",
        "GetCRL",
    }
    for seed in corpus:
        result = world.server().handle("PKIOperation", body=mutator.built[seed.name])
        assert result.pki_status in (PKIStatus.SUCCESS, PKIStatus.PENDING), (
            seed.name,
            result.fail_text,
        )


def test_runs_are_reproducible(world):
    first = fuzz.run(150, seed=7, world=world)
    second = fuzz.run(150, seed=7, world=world)
    assert first.outcomes == second.outcomes
    assert first.outcomes != fuzz.run(150, seed=8, world=world).outcomes


# cryptography warns when a mutated name attribute has a length its type does not allow
@pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")
def test_fuzz_run(world):
    """A few thousand mutated requests: no traceback, no 5xx, nothing oversize."""
    report = fuzz.run(2500, seed=20261202, world=world)
    assert report.count == 2500
    assert report.failures == {}, "\n".join(
        f"{f.signature} [{f.description}]" for f in report.failures.values()
    )
    # every stage was reached: the reader, the signature, the envelope, the content
    assert report.outcomes["MalformedMessage"] > 0
    assert report.outcomes[FailInfo.badMessageCheck.name] > 0
    assert report.outcomes[FailInfo.badRequest.name] > 0
    assert report.outcomes[PKIStatus.PENDING.name] > 0
    assert report.outcomes[PKIStatus.SUCCESS.name] > 0
    assert "exception" not in report.outcomes
