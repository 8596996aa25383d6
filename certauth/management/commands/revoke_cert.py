from django.core.management.base import CommandError, CommandParser

from certauth import services
from certauth.management.base import FacCommand
from certauth.models import Certificate


class Command(FacCommand):
    help = "Revoke an end-entity certificate by its serial number (hex, colons optional)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("serial", help="serial number, e.g. DC:3D:D3:26:0D:9E:2D:9F")
        parser.add_argument(
            "--reason", choices=Certificate.Reason.values, default=Certificate.Reason.UNSPECIFIED
        )

    def handle(self, *args, **options) -> None:
        text = options["serial"].replace(":", "").strip().upper()
        try:
            serial = f"{int(text, 16):X}"
        except ValueError:
            raise CommandError(
                f"{options['serial']!r} is not a hexadecimal serial number."
            ) from None
        if len(serial) % 2:
            serial = "0" + serial
        try:
            cert = Certificate.objects.get(serial=serial)
        except Certificate.DoesNotExist:
            raise CommandError(f"No certificate with serial {options['serial']}.") from None
        services.revoke_certificate(
            cert, reason=options["reason"], actor=services.Actor(user="cli")
        )
        self.stdout.write(f"Revoked {cert.subject} ({cert.serial_colons}): {options['reason']}")
