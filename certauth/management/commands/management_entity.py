from django.core.management.base import CommandParser

from certauth import services
from certauth import x509 as x509util
from certauth.events import Actor
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = (
        "Show, set or clear the PKI management entity of a local CA: the RA certificate "
        "whose signed CMP revocation requests (rr) the CA accepts for any certificate it "
        "issued, and whose removeFromCRL takes one off hold (RFC 9483, 5.3.2)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ca", help="certificate ID of the local CA")
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--certificate", metavar="FILE", help="the RA's certificate, PEM or DER"
        )
        action.add_argument("--clear", action="store_true", help="trust no management entity")

    def handle(self, *args, **options) -> None:
        ca = self.get_ca(options["ca"], local=True)
        actor = Actor(user="cli")
        if options["certificate"]:
            with open(options["certificate"], "rb") as handle:
                data = handle.read()
            ca = services.set_management_entity(ca, data, actor=actor)
        elif options["clear"]:
            ca = services.set_management_entity(ca, None, actor=actor)
        if not ca.management_entity_pem:
            self.stdout.write(f"CA {ca.name} trusts no management entity")
            return
        certificate = x509util.load_certificate(ca.management_entity_pem.encode())
        self.stdout.write(
            f"CA {ca.name} trusts management entity {x509util.format_name(certificate.subject)} "
            f"(issuer {x509util.format_name(certificate.issuer)}, "
            f"serial {certificate.serial_number:X}, "
            f"valid until {certificate.not_valid_after_utc:%Y-%m-%d})"
        )
