from certauth.management.base import FacCommand
from cmp import services


class Command(FacCommand):
    help = "Revoke certificates whose certConf did not come within the confirm wait time."

    def handle(self, *args, **options) -> None:
        count = services.sweep()
        self.stdout.write(f"Revoked {count} unconfirmed certificate(s)")
