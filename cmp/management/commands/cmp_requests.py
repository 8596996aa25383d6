from django.core.management.base import CommandError, CommandParser

from certauth import enrollment as engine
from certauth.events import Actor
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = (
        "List the certificate requests (CMP and SCEP) waiting for manual approval, "
        "or approve / reject one."
    )

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
            rows = [("ID", "RECEIVED", "PROTOCOL", "TYPE", "ENROLLMENT", "SUBJECT")]
            for held in engine.waiting_requests().order_by("created"):
                rows.append(
                    (
                        str(held.pk),
                        f"{held.created:%Y-%m-%d %H:%M:%S}",
                        held.protocol_label,
                        held.operation,
                        held.reference,
                        held.subject,
                    )
                )
            self.write_table(rows)
            return
        if options["id"] is None:
            raise CommandError(f"Give the ID of the request to {action}.")
        cli = Actor(user="cli")
        if action == "approve":
            held = engine.approve_request(options["id"], actor=cli)
            self.stdout.write(
                f"Approved request {held.pk}: certificate {held.certificate.serial_colons} "
                "is handed out at the client's next poll"
            )
        else:
            held = engine.reject_request(options["id"], reason=options["reason"], actor=cli)
            self.stdout.write(f"Rejected request {held.pk}: {held.reason}")
