"""System checks: ``manage.py check --deploy`` flags an unset keystore key."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def keystore_key_check(app_configs, **kwargs):  # noqa: ARG001 - Django's signature
    if settings.FAC_KEYSTORE_KEY:
        return []
    return [
        Warning(
            "FAC_KEYSTORE_KEY is not set: CA private keys and enrollment passwords are "
            "encrypted with a key generated into the data directory.",
            hint=(
                "Set FAC_KEYSTORE_KEY (the same value on every host) and back it up: "
                "without it the stored keys cannot be decrypted."
            ),
            id="certauth.W001",
        )
    ]
