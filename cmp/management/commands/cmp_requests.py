from django.core.management.base import CommandError, CommandParser

from certauth.management.base import FacCommand
from cmp import services


class Command(FacCommand):
    help = "List CMP requests waiting for manual approval, or approve / reject one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action", nargs="?", choices=["list", "approve", "reject"], default="list"
        )
        parser.add_argument("id", nargs="?", type=int, help="request ID (from the list)")
        parser.add_argument(
            "--reason", default="", help="why a request is rejected (sent to the client)"
        )

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "list":
            rows = [("ID", "RECEIVED", "TYPE", "ENROLLMENT", "SUBJECT")]
            for record in services.waiting_requests():
                rows.append(
                    (
                        str(record.pk),
                        f"{record.created:%Y-%m-%d %H:%M:%S}",
                        record.body_type,
                        record.enrollment.reference if record.enrollment else "-",
                        record.request_subject,
                    )
                )
            self.write_table(rows)
            return
        if options["id"] is None:
            raise CommandError(f"Give the ID of the request to {action}.")
        if action == "approve":
            record = services.approve_request(options["id"], user="cli")
            self.stdout.write(
                f"Approved request {record.pk}: certificate {record.certificate.serial_colons} "
                "is handed out at the client's next poll"
            )
        else:
            record = services.reject_request(options["id"], reason=options["reason"], user="cli")
            self.stdout.write(f"Rejected request {record.pk}: {record.reject_reason}")
