from cryptography.hazmat.primitives import serialization
from django.core.management.base import CommandParser

from certauth import services
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = "Sign a fresh CRL for a local CA and write it (PEM to stdout by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ca", help="certificate ID of the local CA")
        parser.add_argument("--format", choices=["pem", "der"], default="pem")
        parser.add_argument("-o", "--output", help="file to write instead of stdout")

    def handle(self, *args, **options) -> None:
        ca = self.get_ca(options["ca"], local=True)
        crl = services.generate_crl(ca, actor=services.Actor(user="cli"))
        encoding = (
            serialization.Encoding.PEM if options["format"] == "pem" else serialization.Encoding.DER
        )
        self.write_output(crl.public_bytes(encoding), options["output"])
