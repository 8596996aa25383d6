"""Fixtures for the protocol tests: no database, no Django."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cmp.protocol import CMPServer

from .backend import LocalCA, MemoryBackend
from .client import Client


@pytest.fixture(scope="session")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(params=["rsa", "ec"])
def key(request, ec_key, rsa_key):
    return rsa_key if request.param == "rsa" else ec_key


@pytest.fixture(scope="session")
def ca() -> LocalCA:
    return LocalCA.create()


@pytest.fixture
def backend(ca) -> MemoryBackend:
    backend = MemoryBackend(ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    backend.add_enrollment("disabled", "fortinet1", status="disabled")
    return backend


@pytest.fixture
def server(backend) -> CMPServer:
    return CMPServer(backend)


@pytest.fixture
def client() -> Client:
    return Client()
