from django.core.management.base import CommandParser

from certauth.events import Actor
from certauth.management.base import FacCommand
from cmp import services


class Command(FacCommand):
    help = "Turn CMP debug mode (trace recording) on or off, or show it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("state", choices=["on", "off", "status"])

    def handle(self, *args, **options) -> None:
        if options["state"] != "status":
            services.set_debug(options["state"] == "on", actor=Actor(user="cli"))
        config = services.config()
        self.stdout.write(f"CMP debug mode is {'on' if config.debug else 'off'}")
