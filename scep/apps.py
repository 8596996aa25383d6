from django.apps import AppConfig


class ScepConfig(AppConfig):
    name = "scep"
    verbose_name = "SCEP server"
    default_auto_field = "django.db.models.BigAutoField"
