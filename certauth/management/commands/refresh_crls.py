from certauth import services
from certauth.management.base import FacCommand


class Command(FacCommand):
    help = "Re-sign the CRLs of the local CAs that are missing or due within 6 hours (run it from cron)."

    def handle(self, *args, **options) -> None:
        count = services.refresh_due_crls(actor=services.Actor(user="cli"))
        self.stdout.write(f"Refreshed {count} CRL(s)")
