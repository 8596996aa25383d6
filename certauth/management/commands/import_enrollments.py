from django.core.management.base import CommandError, CommandParser

from certauth import enrollment_csv
from certauth.events import Actor
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = (
        "Create enrollments from a CSV file, all or nothing. Header row: "
        "reference,password,ca (required) and subject,key_usage,ext_key_usage,days,"
        "renewable_days,type,protocol,category,trusted_ca (optional); lists separated by ';'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file ('-' reads standard input)")
        parser.add_argument("--dry-run", action="store_true", help="check every row, store nothing")

    def handle(self, *args, **options) -> None:
        path = options["file"]
        if path == "-":
            import sys

            data = sys.stdin.buffer.read()
        else:
            data = self.read_file(path)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text.") from None
        try:
            result = enrollment_csv.import_text(
                text,
                source=path if path != "-" else "standard input",
                dry_run=options["dry_run"],
                actor=Actor(user="cli"),
            )
        except enrollment_csv.ImportError_ as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(
                f"Nothing was imported: {len(exc.problems)} bad row(s) in {path}."
            ) from None
        if isinstance(result, int):  # a dry run counts the rows and stores nothing
            self.stdout.write(f"{result} enrollment(s) would be created (dry run: nothing stored)")
        else:
            self.stdout.write(f"Created {len(result)} enrollment(s)")
