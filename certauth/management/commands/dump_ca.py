from cryptography.hazmat.primitives import serialization
from django.core.management.base import CommandParser

from certauth.management.base import FacCommand


class Command(FacCommand):
    help = "Write a CA certificate (PEM to stdout by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="certificate ID of the CA")
        parser.add_argument("--format", choices=["pem", "der"], default="pem")
        parser.add_argument("-o", "--output", help="file to write instead of stdout")

    def handle(self, *args, **options) -> None:
        ca = self.get_ca(options["name"])
        encoding = (
            serialization.Encoding.PEM if options["format"] == "pem" else serialization.Encoding.DER
        )
        self.write_output(ca.certificate.public_bytes(encoding), options["output"])
