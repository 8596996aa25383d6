from certauth.management.base import FacCommand
from certauth.models import Enrollment


class Command(FacCommand):
    help = "List CMP enrollments (passwords are never shown)."

    def handle(self, *args, **options) -> None:
        rows = [
            ("ENROLLMENT ID", "STATUS", "TYPE", "ENABLED", "CA", "DAYS", "KEY USAGE", "SUBJECT")
        ]
        for e in Enrollment.objects.select_related("ca"):
            rows.append(
                (
                    e.reference,
                    e.status,
                    e.type,
                    "yes" if e.enabled else "no",
                    e.ca.name,
                    str(e.validity_days),
                    ",".join(e.key_usage) or "-",
                    e.subject or "-",
                )
            )
        self.write_table(rows)
