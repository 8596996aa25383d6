"""The keystore: CA keys and enrollment passwords never rest in clear, blobs are bound to purpose."""

import logging
import sqlite3

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import connection

from certauth import keystore, services
from certauth.models import CertificateAuthority, Enrollment
from tests.certauth.conftest import KEYSTORE_KEY, assert_absent, key_forms, name, password_forms

pytestmark = pytest.mark.django_db

PASSWORD = "Enrollment-Secret-8d1f2c"
WRONG_KEY_MESSAGE = (
    "Cannot decrypt a stored key: FAC_KEYSTORE_KEY differs from the one it was stored with."
)


def _column(table: str, column: str, pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - fixed names
        return bytes(cursor.fetchone()[0])


@pytest.fixture
def stored(root_ca):
    enrollment = services.create_enrollment(reference="fgt100f", password=PASSWORD, ca=root_ca)
    return root_ca, enrollment, keystore.private_key_for_export(root_ca)


def test_stored_columns_hold_no_clear_text(stored):
    ca, enrollment, key = stored
    key_blob = _column("certauth_certificateauthority", "encrypted_key", ca.pk)
    secret_blob = _column("certauth_enrollment", "encrypted_password", enrollment.pk)
    # Version byte, 12-byte nonce, ciphertext and 16-byte GCM tag.
    assert key_blob[:1] == secret_blob[:1] == b"\x01"
    assert len(secret_blob) == 1 + 12 + len(PASSWORD) + 16
    assert_absent(key_blob, key_forms(key))
    assert_absent(secret_blob, password_forms(PASSWORD))
    # And nowhere else in the rows either.
    with connection.cursor() as cursor:
        for table in ("certauth_certificateauthority", "certauth_enrollment", "certauth_logentry"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed names
            for row in cursor.fetchall():
                text = repr(row).encode()
                assert_absent(text, [PASSWORD.encode()])


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads the SQLite database image")
def test_sqlite_database_image_holds_no_clear_text(stored):
    _ca, _enrollment, key = stored
    connection.ensure_connection()
    image = connection.connection.serialize()
    assert b"certauth_enrollment" in image  # the image is the database
    assert_absent(image, key_forms(key) + password_forms(PASSWORD))


def test_sqlite_file_holds_no_clear_text(cli):
    """Through manage.py into a real SQLite file: read its bytes afterwards."""
    create = (
        "from certauth import services\n"
        "root = services.create_ca(name='fac.cz.root', subject='CN=fac.cz.root')\n"
        "services.create_ca(name='fac.cz.ec', subject='CN=fac.cz.ec', key_type='ec')\n"
        f"services.create_enrollment(reference='fgt100f', password={PASSWORD!r}, ca=root)\n"
    )
    result = cli("shell", "--verbosity", "0", "--command", create)
    assert result.returncode == 0, result.stderr
    image = cli.database.read_bytes()
    assert b"fgt100f" in image
    assert_absent(image, password_forms(PASSWORD))
    db = sqlite3.connect(cli.database)
    try:
        rows = db.execute(
            "SELECT name, encrypted_key FROM certauth_certificateauthority"
        ).fetchall()
    finally:
        db.close()
    assert len(rows) == 2
    for ca_name, blob in rows:
        # The subprocess used the same FAC_KEYSTORE_KEY as these tests.
        key = keystore.private_key_for_export(
            CertificateAuthority(name=ca_name, encrypted_key=blob)
        )
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        assert_absent(image, key_forms(key))


def test_other_keystore_key_cannot_decrypt(stored, settings, ec_key):
    ca, enrollment, _key = stored
    settings.FAC_KEYSTORE_KEY = "a-different-keystore-key"
    ca = CertificateAuthority.objects.get(pk=ca.pk)
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    with pytest.raises(keystore.KeystoreError) as exc:
        keystore.secret_for(enrollment)
    assert str(exc.value) == WRONG_KEY_MESSAGE
    with pytest.raises(keystore.KeystoreError) as exc:
        keystore.private_key_for_export(ca)
    assert str(exc.value) == WRONG_KEY_MESSAGE
    assert not keystore.check_key(ca)
    with pytest.raises(keystore.KeystoreError):
        services.issue_certificate(ca=ca, subject=name("x"), public_key=ec_key.public_key())
    with pytest.raises(keystore.KeystoreError):
        services.generate_crl(ca)
    # Back to the right key, everything works again.
    settings.FAC_KEYSTORE_KEY = KEYSTORE_KEY
    assert keystore.secret_for(enrollment) == PASSWORD.encode()
    assert keystore.check_key(ca)


def test_blobs_are_bound_to_their_purpose(stored):
    ca, enrollment, _key = stored
    # A CA key blob cannot be opened as an enrollment secret...
    enrollment.encrypted_password = ca.encrypted_key
    with pytest.raises(keystore.KeystoreError):
        keystore.secret_for(enrollment)
    # ... nor a secret as a CA key.
    impostor = CertificateAuthority(name="impostor", encrypted_key=keystore.seal_secret(PASSWORD))
    with pytest.raises(keystore.KeystoreError):
        keystore.private_key_for_export(impostor)
    assert not keystore.check_key(impostor)


def test_tampered_and_unknown_blobs():
    blob = bytearray(keystore.seal_secret(PASSWORD))
    blob[-1] ^= 1
    with pytest.raises(keystore.KeystoreError) as exc:
        keystore.secret_for(Enrollment(reference="x", encrypted_password=bytes(blob)))
    assert str(exc.value) == WRONG_KEY_MESSAGE
    for bad in (b"\x02" + bytes(blob[1:]), b"\x01short"):
        with pytest.raises(keystore.KeystoreError) as exc:
            keystore.secret_for(Enrollment(reference="x", encrypted_password=bad))
        assert str(exc.value) == "Unknown keystore blob format."


def test_fresh_nonce_per_seal():
    assert keystore.seal_secret(PASSWORD) != keystore.seal_secret(PASSWORD)


def test_generated_key_when_unset(settings, tmp_path, caplog):
    settings.FAC_KEYSTORE_KEY = ""
    settings.DATA_DIR = tmp_path
    with caplog.at_level(logging.WARNING, logger="certauth.keystore"):
        blob = keystore.seal_secret(PASSWORD)
    path = tmp_path / "keystore.key"
    assert caplog.messages == [
        f"FAC_KEYSTORE_KEY is not set: generated a keystore key into {path}. "
        "A multi-host deployment must set FAC_KEYSTORE_KEY to the same value on every host."
    ]
    assert path.stat().st_mode & 0o777 == 0o600
    caplog.clear()
    assert (
        keystore.secret_for(Enrollment(reference="x", encrypted_password=blob)) == PASSWORD.encode()
    )
    assert caplog.messages == []
    # Setting the generated value explicitly opens the same blob; another value does not.
    settings.FAC_KEYSTORE_KEY = path.read_text().strip()
    assert (
        keystore.secret_for(Enrollment(reference="x", encrypted_password=blob)) == PASSWORD.encode()
    )
    settings.FAC_KEYSTORE_KEY = "something-else"
    with pytest.raises(keystore.KeystoreError):
        keystore.secret_for(Enrollment(reference="x", encrypted_password=blob))
