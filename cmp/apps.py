from django.apps import AppConfig


class CmpConfig(AppConfig):
    name = "cmp"
    verbose_name = "CMP server"
    default_auto_field = "django.db.models.BigAutoField"
