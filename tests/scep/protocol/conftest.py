"""Fixtures for the SCEP protocol tests: no database, no Django."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from scep.protocol import SCEPServer

from .backend import LocalCA, MemoryBackend
from .client import Client


@pytest.fixture(scope="session")
def rsa_ca() -> LocalCA:
    """An RSA CA that decrypts and signs itself."""
    return LocalCA.create(kind="rsa")


@pytest.fixture(scope="session")
def ec_ca() -> LocalCA:
    """An ECDSA CA below an ECDSA root, with an RSA RA that decrypts and signs."""
    return LocalCA.create(kind="ec", with_ra=True, intermediate=True, common_name="SCEP EC CA")


@pytest.fixture(scope="session")
def device_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def backend(rsa_ca) -> MemoryBackend:
    return MemoryBackend(rsa_ca)


@pytest.fixture
def server(backend) -> SCEPServer:
    return SCEPServer(backend)


@pytest.fixture
def client(device_key) -> Client:
    return Client(device_key)
