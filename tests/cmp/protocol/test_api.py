"""The names the adapter and the rest of the project import from the protocol layer."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import cmp.protocol
from cmp.protocol import asn1, errors, messages, protection
from cmp.protocol.backend_api import Backend
from cmp.protocol.server import HANDLERS

from .backend import MemoryBackend
from .client import Client
from .test_server import assert_error

#: cmp.protocol.__all__ before the modules were split; each must stay importable.
NAMES_BEFORE_THE_SPLIT = [
    "INFO_KINDS",
    "Backend",
    "CMPError",
    "CMPServer",
    "CRLStatus",
    "CertId",
    "CertReqTemplate",
    "CertificationRequest",
    "GeneralInfo",
    "GeneralRequest",
    "Issued",
    "KeyUpdateRequest",
    "MalformedMessage",
    "PendingConfirmation",
    "PollOutcome",
    "PollRequest",
    "Rejected",
    "RevocationRequest",
    "RootCaKeyUpdate",
    "ServerResult",
    "SharedSecret",
    "Signer",
    "Waiting",
]


def test_package_exports():
    assert set(NAMES_BEFORE_THE_SPLIT) <= set(cmp.protocol.__all__)
    for name in [*cmp.protocol.__all__]:
        assert getattr(cmp.protocol, name) is not None
    assert cmp.protocol.OID is asn1.OID
    assert cmp.protocol.AlgorithmId is messages.AlgorithmId
    assert cmp.protocol.SignatureProtector is protection.SignatureProtector
    assert cmp.protocol.FailureInfo is errors.FailureInfo


def test_messages_keeps_the_readers_and_writers():
    for name in messages.__all__:
        assert getattr(messages, name) is not None
    for name in ("decode", "general_messages", "encode_response", "response_header"):
        assert callable(getattr(messages, name))


def test_signature_protector_constructor():
    parameters = list(inspect.signature(protection.SignatureProtector).parameters)
    assert parameters == [
        "certificate",
        "sign_with",
        "hash_name",
        "chain",
        "sign_pss_with",
        "pss",
    ]


def test_error_response_and_classes():
    assert callable(errors.error_response)
    assert issubclass(errors.MalformedMessage, Exception)
    assert not issubclass(errors.MalformedMessage, errors.CMPError)


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (cmp.protocol.SharedSecret, ["secret", "sender"]),
        (cmp.protocol.Signer, ["certificate", "sender", "reference"]),
        (
            cmp.protocol.Issued,
            [
                "certificate",
                "chain",
                "ca_pubs",
                "sender",
                "implicit_confirm_granted",
                "modifications",
            ],
        ),
        (
            cmp.protocol.PendingConfirmation,
            [
                "sender_kid",
                "recip_nonce",
                "certificate",
                "sender",
                "cert_req_id",
                "request_nonce",
                "mac_protected",
                "confirmed",
            ],
        ),
        (cmp.protocol.Waiting, ["check_after_seconds", "reason"]),
        (cmp.protocol.Rejected, ["reason", "failure"]),
        (
            cmp.protocol.PollOutcome,
            ["request_body_type", "sender_kid", "sender", "cert_req_id", "result"],
        ),
    ],
)
def test_answer_fields_the_backend_builds(cls, fields):
    assert [f.name for f in dataclasses.fields(cls)] == fields


def test_backend_protocol_methods():
    methods = {
        name
        for name, value in vars(Backend).items()
        if callable(value) and not name.startswith("_")
    }
    assert methods == {
        "mac_secret",
        "transaction_in_use",
        "remember_transaction",
        "check_public_key",
        "certify",
        "pending_confirmation",
        "confirm",
        "signer",
        "response_signer",
        "update_key",
        "revoke",
        "general_info",
        "poll",
    }
    # the in-memory test backend implements every one of them
    assert methods <= set(dir(MemoryBackend))


def test_dispatch_table():
    assert set(HANDLERS) == {
        "ir",
        "cr",
        "p10cr",
        "kur",
        "certConf",
        "error",
        "rr",
        "genm",
        "pollReq",
    }
    for handler in HANDLERS.values():
        assert callable(handler)


def test_a_body_without_handler_is_bad_request(server, client: Client):
    result = server.handle(client.simple("pkiconf"))
    assert "pkiconf" not in HANDLERS
    assert_error(result, errors.FailureInfo.badRequest, "pkiconf is not supported.")
