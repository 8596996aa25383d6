from django.apps import AppConfig


class CertauthConfig(AppConfig):
    name = "certauth"
    verbose_name = "Certificate Management"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from certauth import checks  # noqa: F401  (registers the system checks)
