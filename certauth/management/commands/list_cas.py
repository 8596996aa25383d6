from certauth.management.base import FacCommand
from certauth.models import CertificateAuthority


class Command(FacCommand):
    help = "List local and trusted CAs."

    def handle(self, *args, **options) -> None:
        rows = [("CERTIFICATE ID", "TYPE", "STATUS", "KEY", "EXPIRES", "SUBJECT")]
        for ca in CertificateAuthority.objects.order_by("kind", "name"):
            key = (
                f"{ca.key_type.upper()} {ca.key_size}" if ca.key_type == "rsa" else f"EC {ca.curve}"
            )
            kind = (
                "trusted"
                if ca.kind == ca.Kind.TRUSTED
                else ("root" if ca.is_root else "intermediate")
            )
            rows.append((ca.name, kind, ca.status, key, f"{ca.not_after:%Y-%m-%d}", ca.subject))
        self.write_table(rows)
