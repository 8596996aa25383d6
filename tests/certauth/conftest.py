"""Fixtures for the certauth tests.

End-entity keys are generated once per session; CAs are created per test
through ``certauth.services`` (an ECDSA CA costs nothing, an RSA 2048 one a
tenth of a second). The command-line tests run ``manage.py`` against a copy of
an SQLite database migrated once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certauth import services
from certauth.models import CertificateAuthority, LogEntry

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "certauth"
FIXTURE_PASSPHRASE = b"fixture-passphrase"
KEYSTORE_KEY = "certauth-tests-keystore-key-0123456789abcdef"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def messages() -> list[str]:
    """Event-log messages, oldest first."""
    return list(LogEntry.objects.order_by("id").values_list("message", flat=True))


def name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_csr(key, common_name: str, sans: list[x509.GeneralName] | None = None) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(name(common_name))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def pem(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def key_forms(key) -> list[bytes]:
    """Every way a private key could appear in clear: DER and PEM, PKCS#8 and
    traditional, and the bare secret number."""
    forms = []
    for encoding in (serialization.Encoding.DER, serialization.Encoding.PEM):
        for fmt in (
            serialization.PrivateFormat.PKCS8,
            serialization.PrivateFormat.TraditionalOpenSSL,
        ):
            data = key.private_bytes(encoding, fmt, serialization.NoEncryption())
            forms.append(data)
            if encoding == serialization.Encoding.PEM:
                # The base64 body without its armour, as a text column would hold it.
                forms.append(b"".join(data.splitlines()[1:-1])[:64])
    numbers = key.private_numbers()
    secret = numbers.d if isinstance(key, rsa.RSAPrivateKey) else numbers.private_value
    forms.append(secret.to_bytes((secret.bit_length() + 7) // 8, "big"))
    return forms


def password_forms(password: str) -> list[bytes]:
    return [password.encode(), password.encode("utf-16-le"), password.encode().hex().encode()]


def assert_absent(haystack: bytes, needles: list[bytes]) -> None:
    for needle in needles:
        assert needle not in haystack, f"found {needle[:16]!r}... in clear"


@pytest.fixture(autouse=True)
def _keystore_key(settings):
    """A fixed keystore key, so no test writes keystore.key into the data directory."""
    settings.FAC_KEYSTORE_KEY = KEYSTORE_KEY


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ee_keys(rsa_key, ec_key) -> dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
    return {"rsa": rsa_key, "ec": ec_key}


@pytest.fixture(params=["rsa", "ec"])
def key_type(request) -> str:
    return request.param


@pytest.fixture
def root_ca(db, key_type) -> CertificateAuthority:
    """A local root CA ``CN=fac.cz.root`` of each key type."""
    return services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root", key_type=key_type)


@pytest.fixture
def ec_root(db) -> CertificateAuthority:
    """A local ECDSA root CA, for tests where the key type does not matter."""
    return services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root", key_type="ec")


@pytest.fixture
def trusted_ca(db) -> CertificateAuthority:
    return services.import_ca(
        name="vendor.root", certificate_data=fixture_bytes("vendor-root.pem"), trusted=True
    )


# --- manage.py in a subprocess ---------------------------------------------------


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """An SQLite database file with every migration applied, copied by each CLI test."""
    base = tmp_path_factory.mktemp("cli-template")
    path = base / "fac.sqlite3"
    env = cli_env(path, base / "data")
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0", "--skip-checks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return path


def cli_env(database: Path, data_dir: Path, *, keystore_key: str | None = KEYSTORE_KEY) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "FAC_", "DJANGO_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        FAC_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="fac.settings",
        DJANGO_SECRET_KEY="certauth-tests-secret-key-not-for-production-0123456789",
    )
    if keystore_key is not None:
        env["FAC_KEYSTORE_KEY"] = keystore_key
    return env


class Cli:
    """Runs ``python manage.py ...`` on its own copy of the migrated database.

    System checks import every URL module (the CMP stack with pyasn1 takes
    about a second), so commands run with ``--skip-checks`` unless a test asks
    for ``checks=True``; a few do, to prove the full start-up path.
    """

    def __init__(self, database: Path, data_dir: Path) -> None:
        self.database = database
        self.data_dir = data_dir
        self.keystore_key: str | None = KEYSTORE_KEY

    def command(self, *args: str, checks: bool = False) -> list[str]:
        argv = [sys.executable, "manage.py", *args]
        if not checks and args and args[0] not in _NO_CHECK_OPTION:
            argv.insert(3, "--skip-checks")
        return argv

    def env(self, extra: dict | None = None) -> dict:
        full_env = cli_env(self.database, self.data_dir, keystore_key=self.keystore_key)
        full_env.update(extra or {})
        return full_env

    def __call__(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict | None = None,
        checks: bool = False,  # noqa: A002
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args, checks=checks),
            cwd=ROOT,
            env=self.env(env),
            input=input,
            capture_output=True,
            timeout=120,
        )


# Commands without a --skip-checks option (they run no system checks by default).
_NO_CHECK_OPTION = {"shell", "check"}


@pytest.fixture
def cli(migrated_sqlite, tmp_path) -> Cli:
    return copy_cli(migrated_sqlite, tmp_path)


@pytest.fixture(scope="session")
def seeded_sqlite(migrated_sqlite, tmp_path_factory) -> Path:
    """The migrated database with a local root ``fac.cz.root`` (ECDSA) and a trusted ``vendor.root``."""
    base = tmp_path_factory.mktemp("cli-seeded")
    database = base / "fac.sqlite3"
    shutil.copyfile(migrated_sqlite, database)
    (base / "data").mkdir()
    # One process (start-up dominates the cost), through the commands themselves.
    seed = (
        "from django.core.management import call_command\n"
        "call_command('init_ca', 'fac.cz.root', 'CN=fac.cz.root', '--key-type', 'ec')\n"
        f"call_command('import_ca', 'vendor.root', {str(FIXTURES / 'vendor-root.der')!r}, '--trusted')\n"
    )
    result = Cli(database, base / "data")("shell", "--verbosity", "0", "--command", seed)
    assert result.returncode == 0, result.stderr
    return database


def copy_cli(template: Path, directory: Path) -> Cli:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, directory / "fac.sqlite3")
    (directory / "data").mkdir(exist_ok=True)
    return Cli(directory / "fac.sqlite3", directory / "data")


@pytest.fixture
def seeded_cli(seeded_sqlite, tmp_path) -> Cli:
    return copy_cli(seeded_sqlite, tmp_path)
