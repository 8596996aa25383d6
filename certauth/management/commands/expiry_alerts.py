from django.core.management.base import CommandParser

from certauth import alerts
from certauth.events import Actor
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = (
        "Warn in the event log about each CA and certificate entering its expiry warning "
        "window (System > Alerts) and mail the summary. The housekeeping (cmp_sweep) does "
        "this once a day; --if-due runs only when it has not run today."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-due", action="store_true", help="only when the daily run has not happened today"
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="warn about everything within the window, not only what entered it",
        )

    def handle(self, *args, **options) -> None:
        actor = Actor(user="cli")
        if options["if_due"]:
            report = alerts.run_if_due(actor=actor)
            if report is None:
                self.stdout.write("Expiry alerts ran today already")
                return
        else:
            report = alerts.run(actor=actor, everything=options["all"])
        line = f"{len(report.cas)} CA(s) and {len(report.certificates)} certificate(s) warned about"
        if report.sent:
            line += f"; summary sent to {report.email}"
        elif report.error:
            line += f"; the summary to {report.email} could not be sent: {report.error}"
        self.stdout.write(line)
