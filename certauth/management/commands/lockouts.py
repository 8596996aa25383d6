from django.core.management.base import CommandParser

from certauth import throttle
from certauth.events import Actor
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = (
        "List the lockouts of the guessing throttle (enrollment IDs, administrators, "
        "source addresses), or clear one or all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["list", "clear"], default="list")
        parser.add_argument(
            "key", nargs="?", help="the key to clear, as listed (e.g. cmp-ref:fgt100f)"
        )
        parser.add_argument("--all", action="store_true", help="clear every lockout")

    def handle(self, *args, **options) -> None:
        if options["action"] == "list":
            rows = [("KEY", "LOCKED UNTIL", "LOCKOUTS IN A ROW")]
            for row in throttle.locked():
                rows.append((row.key, f"{row.locked_until:%Y-%m-%d %H:%M:%S}", str(row.lockouts)))
            self.write_table(rows)
            return
        if not options["all"] and not options["key"]:
            from django.core.management.base import CommandError

            raise CommandError("Give the key to clear, or --all.")
        cleared = throttle.clear(
            None if options["all"] else options["key"], actor=Actor(user="cli")
        )
        self.stdout.write(f"Cleared {cleared} lockout(s)")
