from django.core.management.base import CommandParser

from certauth import profiles, services
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = "Create a local root CA, or an intermediate CA signed by --parent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="unique certificate ID, e.g. fac.cz.root")
        parser.add_argument(
            "subject", help='subject DN, e.g. "CN=fac.cz.root" or "/C=CZ/O=Example/CN=Root"'
        )
        parser.add_argument("--key-type", choices=["rsa", "ec", "ed25519", "ed448"], default="rsa")
        parser.add_argument("--key-size", type=int, default=2048, help="RSA: 2048, 3072 or 4096")
        parser.add_argument("--curve", choices=["p256", "p384"], default="p256", help="ECDSA curve")
        parser.add_argument(
            "--hash",
            choices=["sha256", "sha384", "sha512"],
            default="sha256",
            help="RSA and ECDSA; Ed25519 and Ed448 sign without a separate hash",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=profiles.DEFAULT_CA_DAYS,
            help=f"validity in days (default {profiles.DEFAULT_CA_DAYS})",
        )
        parser.add_argument("--parent", help="certificate ID of the local CA that signs this one")

    def handle(self, *args, **options) -> None:
        parent = self.get_ca(options["parent"], local=True) if options["parent"] else None
        ca = services.create_ca(
            name=options["name"],
            subject=options["subject"],
            key_type=options["key_type"],
            key_size=options["key_size"],
            curve=options["curve"],
            hash_name=options["hash"],
            days=options["days"],
            parent=parent,
            actor=services.Actor(user="cli"),
        )
        self.stdout.write(
            f"Created {'intermediate' if parent else 'root'} CA {ca.name}: {ca.subject}, "
            f"serial {ca.serial_colons}, valid until {ca.not_after:%Y-%m-%d}"
        )
