from django.core.management.base import CommandError, CommandParser

from certauth import enrollment_csv
from certauth.management.base import FacCommand
from certauth.models import Enrollment


class Command(FacCommand):
    help = (
        "Write the enrollments as CSV in import_enrollments' format, without passwords "
        "(they are never shown)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")

    def handle(self, *args, **options) -> None:
        rows = enrollment_csv.export_rows(
            Enrollment.objects.select_related("ca", "trusted_ca")
            .order_by("reference")
            .iterator(chunk_size=2000)
        )
        path = options["output"]
        if not path:
            for text in rows:
                self.stdout.write(text, ending="")
            return
        try:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.writelines(rows)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
