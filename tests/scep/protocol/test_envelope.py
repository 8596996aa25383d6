"""The pkcsPKIEnvelope: content ciphers, key transport through a callback, uniform failures."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import pkcs7

from scep.protocol import LocalRecipientKey, envelope, errors
from scep.protocol.protection import AlgorithmPolicy

from .backend import LocalCA
from .client import Client, decrypt_envelope, rsa_key, self_signed

LEGACY = AlgorithmPolicy(legacy=True, single_des=True)
CONTENT = b"\x30\x03\x02\x01\x05" * 7


@pytest.mark.parametrize("cipher", sorted(envelope.CIPHERS))
def test_encrypt_then_client_decrypts(device_key, cipher):
    certificate = self_signed(device_key)
    sealed = envelope.encrypt(CONTENT, certificate, envelope.CIPHERS[cipher])
    content, _name = decrypt_envelope(sealed, device_key, certificate)
    assert content == CONTENT


def test_aes_replies_come_from_cryptographys_builder(device_key):
    certificate = self_signed(device_key)
    sealed = envelope.encrypt(CONTENT, certificate, envelope.AES256_CBC)
    assert pkcs7.pkcs7_decrypt_der(sealed, certificate, device_key, []) == CONTENT


@pytest.mark.parametrize("cipher", ["aes128", "aes192", "aes256", "3des", "des"])
def test_client_envelope_decrypts(rsa_ca, cipher):
    sealed = Client(cipher=cipher).envelope(CONTENT, [rsa_ca.certificate])
    opened = envelope.decrypt(sealed, rsa_ca.recipient_keys(), LEGACY)
    names = {"aes128": "AES-128-CBC", "aes192": "AES-192-CBC", "aes256": "AES-256-CBC"}
    names.update({"3des": "DES-EDE3-CBC", "des": "DES-CBC"})
    assert opened.content == CONTENT and opened.cipher.name == names[cipher]
    assert opened.recipient == rsa_ca.certificate


def test_decrypt_callback_gets_the_padding(rsa_ca):
    seen = []

    class Keystore:
        certificate = rsa_ca.certificate

        def decrypt(self, encrypted_key, pad):
            seen.append(type(pad))
            return rsa_ca.key.decrypt(encrypted_key, pad)

    for transport in ("pkcs1", "oaep"):
        sealed = Client(key_transport=transport).envelope(CONTENT, [rsa_ca.certificate])
        assert envelope.decrypt(sealed, (Keystore(),), LEGACY).content == CONTENT
    assert seen == [padding.PKCS1v15, padding.OAEP]


def test_keystore_failure_is_the_uniform_failure(rsa_ca):
    class Broken:
        certificate = rsa_ca.certificate

        def decrypt(self, encrypted_key, pad):
            raise RuntimeError("HSM offline")

    sealed = Client().envelope(CONTENT, [rsa_ca.certificate])
    with pytest.raises(errors.BadMessageCheck) as info:
        envelope.decrypt(sealed, (Broken(),), LEGACY)
    assert info.value.text == envelope.UNDECRYPTABLE


def test_second_recipient_key_of_a_rollover(rsa_ca):
    upcoming = LocalCA.create(common_name="Next")
    sealed = Client().envelope(CONTENT, [upcoming.certificate])
    keys = rsa_ca.recipient_keys() + upcoming.recipient_keys()
    assert envelope.decrypt(sealed, keys, LEGACY).recipient == upcoming.certificate


def test_one_of_several_recipients(ec_ca, rsa_ca):
    # a client that encrypts to every RSA certificate of GetCACert
    sealed = Client().envelope(CONTENT, [rsa_ca.certificate, ec_ca.ra])
    assert envelope.decrypt(sealed, ec_ca.recipient_keys(), LEGACY).content == CONTENT


def test_policy_refuses_legacy_ciphers(rsa_ca):
    for cipher, policy in (("3des", AlgorithmPolicy()), ("des", AlgorithmPolicy(legacy=True))):
        sealed = Client(cipher=cipher).envelope(CONTENT, [rsa_ca.certificate])
        with pytest.raises(errors.BadAlg):
            envelope.decrypt(sealed, rsa_ca.recipient_keys(), policy)


def test_cannot_encrypt_to_an_ec_certificate():
    certificate = self_signed(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(errors.BadAlg):
        envelope.encrypt(CONTENT, certificate, envelope.AES128_CBC)


def test_des_keys_have_odd_parity():
    for byte in envelope._odd_parity(bytes(range(256))):
        assert bin(byte).count("1") % 2 == 1


def test_local_recipient_key_repr_hides_the_key(rsa_ca):
    key = LocalRecipientKey(rsa_ca.certificate, rsa_key())
    assert "private_key" not in repr(key)
