from django.core.management.base import CommandParser

from certauth.management.base import FacCommand
from certauth.models import Certificate


class Command(FacCommand):
    help = "List end-entity certificates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ca", help="only those issued by this CA")
        parser.add_argument("--status", choices=[*Certificate.Status.values, "all"], default="all")

    def handle(self, *args, **options) -> None:
        qs = Certificate.objects.select_related("ca", "enrollment").order_by("created")
        if options["ca"]:
            qs = qs.filter(ca=self.get_ca(options["ca"]))
        if options["status"] != "all":
            qs = qs.with_status(options["status"])
        rows = [("SERIAL", "STATUS", "EXPIRES", "CA", "ENROLLMENT", "SUBJECT")]
        for cert in qs:
            rows.append(
                (
                    cert.serial_colons,
                    cert.status_at(),
                    f"{cert.not_after:%Y-%m-%d}",
                    cert.ca.name,
                    cert.enrollment.reference if cert.enrollment else "-",
                    cert.subject,
                )
            )
        self.write_table(rows)
