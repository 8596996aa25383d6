"""The fuzzer (tests/cmp/protocol/fuzz.py) with a fixed seed, and the shapes it found.

The long run is ``python -m tests.cmp.protocol.fuzz --count 100000 --seed N``
(docs/fuzzing.md).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cmp.protocol.errors import FailureInfo

from . import fuzz
from .client import read_response

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cmp" / "fuzz"

#: Messages a fuzzing run turned into a traceback, with the answer each gets now.
FOUND = {
    # TypeError from cryptography: a CN of type BIT STRING in the header sender
    "rr-sender-with-a-bit-string-cn.der": (
        FailureInfo.badDataFormat,
        "The sender is not a valid Name: oid must be X500_UNIQUE_IDENTIFIER for BitString type.",
    ),
    # PyAsn1Error re-encoding an empty RDN of a crlStatusList issuer (MAC verified)
    # (RFC 9483, 4.3: a malformed infoValue is badRequest)
    "genm-crl-status-with-an-empty-rdn.der": (
        FailureInfo.badRequest,
        "The crlStatusList infoValue is malformed: The crlStatusList cannot be decoded: "
        "ASN.1 object RelativeDistinguishedName is inconsistent.",
    ),
}


@pytest.fixture(scope="module")
def world():
    return fuzz.World.create(random.Random(0))


def test_every_found_shape_is_kept():
    assert sorted(p.name for p in FIXTURES.glob("*.der")) == sorted(FOUND)


@pytest.mark.parametrize("name", sorted(FOUND))
def test_found_shape_is_answered_with_its_error(world, name):
    failure, text = FOUND[name]
    result = world.server().handle((FIXTURES / name).read_bytes())
    response = read_response(result.body)
    assert response.body_type == "error"
    assert response.failure_bits == (int(failure),)
    assert response.status_text == text
    assert fuzz._broken(result) is None


def test_seeds_are_valid_requests(world):
    """Every seed is answered without error: mutations start from real requests."""
    corpus = fuzz.seeds(world, random.Random(0))
    assert {seed.name for seed in corpus} >= {"ir", "p10cr", "kur", "rr", "genm", "certConf"}
    for seed in corpus:
        result = world.server().handle(seed.der)
        assert result.error is None, (seed.name, result.error)


def test_runs_are_reproducible():
    first, second = fuzz.run(200, seed=7), fuzz.run(200, seed=7)
    assert first.outcomes == second.outcomes
    assert first.outcomes != fuzz.run(200, seed=8).outcomes


# cryptography warns when a mutated name attribute has a length its type does not allow
@pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")
def test_fuzz_run():
    """A few thousand mutated messages: no traceback, no systemFailure, nothing oversize."""
    report = fuzz.run(5000, seed=20260102)
    assert report.count == 5000
    assert report.failures == {}, "\n".join(
        f"{f.signature} [{f.description}]" for f in report.failures.values()
    )
    # the run reached every stage: refusals before and after the protection check,
    # and mutated requests that were still served
    assert report.outcomes["MalformedMessage"] > 0
    assert report.outcomes[FailureInfo.badMessageCheck.name] > 0
    assert report.outcomes[FailureInfo.badDataFormat.name] > 0
    assert report.outcomes[FailureInfo.badCertTemplate.name] > 0
    assert sum(n for outcome, n in report.outcomes.items() if outcome.startswith("ok ")) > 0
    assert "exception" not in report.outcomes
