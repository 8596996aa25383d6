from django.apps import AppConfig


def _default_ca_id() -> int | None:
    """CMP > General's default CA (CMPConfig.load()'s row), without creating the row."""
    from cmp.models import CMPConfig

    return CMPConfig.objects.filter(pk=1).values_list("default_ca_id", flat=True).first()


class CmpConfig(AppConfig):
    name = "cmp"
    verbose_name = "CMP server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # CA fields of the GUI start on CMP > General's default CA (certauth does not import cmp).
        from certauth.gui.forms import register_default_ca

        register_default_ca(_default_ca_id)
