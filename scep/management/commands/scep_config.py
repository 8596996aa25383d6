import sys

from django.core.management.base import CommandParser

from certauth.events import Actor
from certauth.management.base import FacCommand
from scep import services


class Command(FacCommand):
    help = (
        "Show or change SCEP > General: enable, default CA, enrollment method, revocation on "
        "renewal, legacy algorithms (3DES, SHA-1) and single DES (Debian's scepclient)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        def pair(name: str, on: str, off: str, text: str) -> None:
            group = parser.add_mutually_exclusive_group()
            group.add_argument(on, dest=name, action="store_true", default=None, help=text)
            group.add_argument(off, dest=name, action="store_false", default=None)

        pair("enabled", "--enable", "--disable", "turn the SCEP server on or off")
        parser.add_argument(
            "--default-ca", help="certificate ID of the CA GetCACert returns ('none' to clear)"
        )
        parser.add_argument(
            "--method",
            choices=["automatic", "manual"],
            help="the enrollment method of new SCEP enrollment requests (manual: Manual and "
            "Automatic, each request waits for approval)",
        )
        pair(
            "revoke_renewed",
            "--revoke-renewed",
            "--keep-renewed",
            "revoke the old certificate on renewal, or keep it valid",
        )
        pair("legacy_algorithms", "--legacy", "--no-legacy", "allow 3DES and SHA-1")
        pair(
            "single_des",
            "--single-des",
            "--no-single-des",
            "also allow single DES (with --legacy; Debian's scepclient needs both)",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--default-password", help="the default enrollment password; '-' reads it from stdin"
        )
        group.add_argument(
            "--no-default-password", action="store_true", help="remove the default password"
        )

    def handle(self, *args, **options) -> None:
        values: dict[str, object] = {
            name: options[name]
            for name in ("enabled", "revoke_renewed", "legacy_algorithms", "single_des")
            if options[name] is not None
        }
        if options["method"]:
            values["method"] = options["method"]
        if options["default_ca"]:
            name = options["default_ca"]
            values["default_ca"] = None if name == "none" else self.get_ca(name, local=True)
        password = options["default_password"]
        if password == "-":
            password = sys.stdin.readline().rstrip("\n")
        if options["no_default_password"]:
            password = ""
        if values or password is not None:
            _cfg, changes = services.update_settings(
                actor=Actor(user="cli"), default_password=password, **values
            )
            self.stdout.write("; ".join(changes) if changes else "No changes")
        cfg = services.config()
        method = services.METHOD_LABELS.get(cfg.method, cfg.method)
        rows = [
            ("SETTING", "VALUE"),
            ("enable SCEP", "on" if cfg.enabled else "off"),
            ("default CA", cfg.default_ca.name if cfg.default_ca else "none (the oldest local CA)"),
            ("default enrollment password", "set" if cfg.has_password else "not set"),
            ("enrollment method", method),
            ("revoke the old certificate on renewal", "on" if cfg.revoke_renewed else "off"),
            ("allow legacy algorithms (3DES, SHA-1)", "on" if cfg.legacy_algorithms else "off"),
            ("allow single DES", "on" if cfg.single_des else "off"),
        ]
        self.write_table(rows)
