import os

from django.core.management.base import CommandError, CommandParser

from certauth import services
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = "Import a local CA (certificate and key, or PKCS#12) or a trusted CA (certificate only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="unique certificate ID for the imported CA")
        parser.add_argument("cert_file", nargs="?", help="CA certificate, PEM or DER")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--key", dest="key_file", help="private key file, PEM or DER")
        group.add_argument(
            "--pkcs12", dest="pkcs12_file", help="PKCS#12 file with certificate and key"
        )
        parser.add_argument(
            "--passphrase",
            help="passphrase of the PKCS#12 file or encrypted key; '-' reads it from stdin, "
            "'env:VAR' from an environment variable",
        )
        parser.add_argument(
            "--trusted", action="store_true", help="import as a trusted CA (no key)"
        )

    def _passphrase(self, value: str | None) -> bytes | None:
        if value is None:
            return None
        if value == "-":
            return self.stdin_line().encode()
        if value.startswith("env:"):
            env_value = os.environ.get(value[4:])
            if env_value is None:
                raise CommandError(f"Environment variable {value[4:]} is not set.")
            return env_value.encode()
        return value.encode()

    def stdin_line(self) -> str:
        import sys

        return sys.stdin.readline().rstrip("\n")

    def handle(self, *args, **options) -> None:
        actor = services.Actor(user="cli")
        passphrase = self._passphrase(options["passphrase"])
        if options["pkcs12_file"]:
            if options["trusted"]:
                raise CommandError(
                    "--pkcs12 imports a local CA with its key; it cannot be --trusted."
                )
            ca = services.import_ca_pkcs12(
                name=options["name"],
                data=self.read_file(options["pkcs12_file"]),
                passphrase=passphrase,
                actor=actor,
            )
        else:
            if not options["cert_file"]:
                raise CommandError("Give CERT_FILE, or --pkcs12 FILE.")
            ca = services.import_ca(
                name=options["name"],
                certificate_data=self.read_file(options["cert_file"]),
                key_data=self.read_file(options["key_file"]) if options["key_file"] else None,
                key_passphrase=passphrase,
                trusted=options["trusted"],
                actor=actor,
            )
        kind = "trusted CA" if options["trusted"] else "local CA"
        self.stdout.write(
            f"Imported {kind} {ca.name}: {ca.subject}, valid until {ca.not_after:%Y-%m-%d}"
        )
