from django.apps import AppConfig


class CertauthConfig(AppConfig):
    name = "certauth"
    verbose_name = "Certificate Management"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from certauth import auth, checks  # noqa: F401  (signal receivers, system checks)
