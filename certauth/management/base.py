"""Shared behaviour of the certauth management commands.

Every refusal (unknown CA, duplicate name, malformed DN, bad key size, wrong
passphrase, bad arguments) ends as one line on stderr and exit code 1, never
a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from certauth import keystore, services
from certauth.models import CertificateAuthority


class _Parser(CommandParser):
    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            sys.stderr.write(f"{self.prog}: error: {message}\n")
            sys.exit(1)
        raise CommandError(f"Error: {message}")


class FacCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _Parser  # one-line usage errors, exit code 1
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except (services.ServiceError, services.InvalidInput, keystore.KeystoreError) as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(
                f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc)
            ) from None

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv(argv)
        except SystemExit as exc:
            # Django exits 1 after printing "CommandError: ..."; keep it 1.
            raise SystemExit(1 if exc.code else 0) from None

    @staticmethod
    def get_ca(name: str, *, local: bool | None = None) -> CertificateAuthority:
        qs = CertificateAuthority.objects.all()
        if local is True:
            qs = qs.local()
        try:
            return qs.get(name=name)
        except CertificateAuthority.DoesNotExist:
            raise CommandError(f"Unknown CA {name!r}.") from None

    @staticmethod
    def read_file(path: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None

    def write_table(self, rows: Sequence[tuple[str, ...]]) -> None:
        """Rows (the first is the header) as aligned columns, two spaces apart."""
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip())

    def write_output(self, data: bytes, path: str | None) -> None:
        if path:
            try:
                with open(path, "wb") as handle:
                    handle.write(data)
            except OSError as exc:
                raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        else:
            self.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
