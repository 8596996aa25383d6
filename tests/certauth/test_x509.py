"""Pure helpers: DN and SAN parsing, serial formatting, key and extension policy."""

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certauth import profiles
from certauth import x509 as x509util
from certauth.x509 import InvalidInput


@pytest.mark.parametrize(
    "text",
    ["C=CZ, O=Example, CN=host", "/C=CZ/O=Example/CN=host", "c=CZ,o=Example,cn=host"],
)
def test_parse_name_forms_keep_certificate_order(text):
    parsed = x509util.parse_name(text)
    assert [a.oid for a in parsed] == [
        NameOID.COUNTRY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.COMMON_NAME,
    ]
    assert x509util.format_name(parsed) == "C=CZ, O=Example, CN=host"


def test_escaped_separators_round_trip():
    parsed = x509util.parse_name(r"O=Example\, Inc., CN=a/b")
    assert parsed.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example, Inc."
    assert x509util.format_name(parsed) == r"O=Example\, Inc., CN=a/b"
    assert (
        x509util.parse_name(r"/O=a\/b/CN=x")
        .get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0]
        .value
        == "a/b"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The subject is empty."),
        ("CN=a,,O=b", "Malformed DN 'CN=a,,O=b': empty attribute."),
        ("fac.cz.root", "Malformed DN 'fac.cz.root': 'fac.cz.root' is not ATTRIBUTE=value."),
        ("CNN=fac", "Malformed DN 'CNN=fac': unknown attribute 'CNN'."),
        ("CN=", "Malformed DN 'CN=': CN has no value."),
        ("C=CZE, CN=x", "Malformed DN 'C=CZE, CN=x': C must be a two-letter country code."),
    ],
)
def test_malformed_names(text, message):
    with pytest.raises(InvalidInput) as exc:
        x509util.parse_name(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("text", "expected", "formatted"),
    [
        ("DNS:Host.Example.com", x509.DNSName("host.example.com"), "DNS:host.example.com"),
        ("dns:*.example.com", x509.DNSName("*.example.com"), "DNS:*.example.com"),
        ("IP:192.0.2.1", x509.IPAddress(ipaddress.ip_address("192.0.2.1")), "IP:192.0.2.1"),
        ("IP:2001:db8::1", x509.IPAddress(ipaddress.ip_address("2001:db8::1")), "IP:2001:db8::1"),
        (
            "email:admin@example.com",
            x509.RFC822Name("admin@example.com"),
            "email:admin@example.com",
        ),
        (
            "URI:https://example.com/x",
            x509.UniformResourceIdentifier("https://example.com/x"),
            "URI:https://example.com/x",
        ),
    ],
)
def test_parse_san(text, expected, formatted):
    assert x509util.parse_san(text) == expected
    assert x509util.format_san(expected) == formatted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "host.example.com",
            "SAN 'host.example.com' must be written as TYPE:value, e.g. DNS:host.example.com.",
        ),
        ("IP:192.0.2.300", "SAN 'IP:192.0.2.300' is not a valid IP address."),
        ("IP:fw.example.com", "SAN 'IP:fw.example.com' is not a valid IP address."),
        ("DNS:bad_name.example.com", "SAN 'DNS:bad_name.example.com' is not a valid DNS name."),
        ("DNS:a..b", "SAN 'DNS:a..b' is not a valid DNS name."),
        ("email:nobody", "SAN 'email:nobody' is not a valid e-mail address."),
        ("DNS:", "SAN 'DNS:' must be written as TYPE:value, e.g. DNS:host.example.com."),
        ("X400:foo", "SAN 'X400:foo': type must be DNS, IP, email or URI."),
    ],
)
def test_invalid_sans(text, message):
    with pytest.raises(InvalidInput) as exc:
        x509util.parse_san(text)
    assert str(exc.value) == message


def test_serial_formats():
    assert x509util.serial_hex(0xABC) == "0ABC"
    assert x509util.serial_colons(0xDC3DD3260D9E2D9F) == "DC:3D:D3:26:0D:9E:2D:9F"
    assert x509util.serial_colons("abc") == "0A:BC"


def test_random_serial_is_positive_and_long():
    serials = {x509util.random_serial() for _ in range(200)}
    assert len(serials) == 200
    # RFC 5280 4.1.2.2: positive, at most 20 octets; CA/B BR: >= 64 bits of entropy.
    assert all(0 < s < 2**159 for s in serials)
    assert min(s.bit_length() for s in serials) > 64


def test_key_usage_names():
    ku = x509util.key_usage_extension(["digitalSignature", "keyAgreement", "encipherOnly"])
    assert ku.digital_signature and ku.key_agreement and ku.encipher_only
    assert not ku.key_cert_sign
    with pytest.raises(InvalidInput) as exc:
        x509util.key_usage_extension(["digitalSignature", "signEverything"])
    assert str(exc.value) == (
        "Unknown key usage signEverything: use digitalSignature, nonRepudiation, keyEncipherment, "
        "dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly."
    )
    with pytest.raises(InvalidInput) as exc:
        x509util.key_usage_extension(["decipherOnly"])
    assert str(exc.value) == "encipherOnly and decipherOnly need keyAgreement (RFC 5280 4.2.1.3)."


def test_ext_key_usage_names():
    eku = x509util.ext_key_usage_extension(["serverAuth", "ipsecIKE", "serverAuth"])
    assert [oid.dotted_string for oid in eku] == ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.17"]
    with pytest.raises(InvalidInput) as exc:
        x509util.ext_key_usage_extension(["anyPurpose"])
    assert str(exc.value) == (
        "Unknown extended key usage anyPurpose: use serverAuth, clientAuth, codeSigning, "
        "emailProtection, timeStamping, OCSPSigning, ipsecIKE."
    )


def test_end_entity_key_policy():
    profiles.check_public_key(ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(InvalidInput) as exc:
        profiles.check_public_key(ec.generate_private_key(ec.SECP192R1()).public_key())
    assert str(exc.value) == "Elliptic curve secp192r1 is not accepted."
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    with pytest.raises(InvalidInput) as exc:
        profiles.check_public_key(weak.public_key())
    assert str(exc.value) == "RSA key of 1024 bits is too short (minimum 2048)."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"key_type": "rsa", "key_size": 1024},
            "Unsupported RSA key size 1024: use one of 2048, 3072, 4096.",
        ),
        ({"key_type": "ec", "curve": "p521"}, "Unsupported curve 'p521': use one of p256, p384."),
        ({"key_type": "dsa"}, "Unsupported key type 'dsa': use rsa, ec, ed25519, ed448."),
    ],
)
def test_generate_private_key_refusals(kwargs, message):
    key_type = kwargs.pop("key_type")
    with pytest.raises(InvalidInput) as exc:
        x509util.generate_private_key(key_type, **kwargs)
    assert str(exc.value) == message


def test_hash_algorithm():
    assert x509util.hash_algorithm("sha384").name == "sha384"
    with pytest.raises(InvalidInput) as exc:
        x509util.hash_algorithm("sha1")
    assert str(exc.value) == "Unsupported hash 'sha1': use sha256, sha384 or sha512."


@pytest.mark.parametrize(("key_type", "bits"), [("ed25519", 256), ("ed448", 456)])
def test_eddsa_keys(key_type, bits):
    """RFC 9481, 3.3 / RFC 8410: Ed25519 and Ed448 keys, signing without a separate hash."""
    key = x509util.generate_private_key(key_type)
    assert x509util.describe_key(key) == (key_type, bits, "")
    assert x509util.describe_key(key.public_key()) == (key_type, bits, "")
    assert x509util.signing_hash(key, "sha256") is None
    assert isinstance(
        x509util.signing_hash(x509util.generate_private_key("ec"), "sha384"), hashes.SHA384
    )


@pytest.mark.parametrize("key_type", ["ed25519", "ed448"])
def test_eddsa_key_policy(key_type):
    """Accepted for certification; RFC 8410, 5: never an encipherment or agreement usage."""
    public = x509util.generate_private_key(key_type).public_key()
    profiles.check_public_key(public)
    assert profiles.key_type(public) == key_type
    assert profiles.key_usage_for(public, None) == ["digitalSignature"]
    assert profiles.key_usage_for(public, ["digitalSignature", "keyEncipherment"]) == [
        "digitalSignature"
    ]
    assert profiles.key_usage_for(public, ["keyAgreement"]) == ["digitalSignature"]
