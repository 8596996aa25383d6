"""``manage.py check --deploy`` flags an unset keystore key (certauth.W001)."""

import io

import pytest
from django.core import checks
from django.core.management import call_command

from certauth.checks import keystore_key_check

W001 = (
    "?: (certauth.W001) FAC_KEYSTORE_KEY is not set: CA private keys and enrollment passwords are "
    "encrypted with a key generated into the data directory.\n"
    "\tHINT: Set FAC_KEYSTORE_KEY (the same value on every host) and back it up: without it the "
    "stored keys cannot be decrypted."
)


def test_deploy_check_warns_without_keystore_key(cli):
    cli.keystore_key = None
    result = cli("check", "--deploy")
    assert result.returncode == 0, result.stderr.decode()
    assert W001 in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_keystore_key_check(settings):
    settings.FAC_KEYSTORE_KEY = "set"
    assert keystore_key_check(None) == []
    settings.FAC_KEYSTORE_KEY = ""
    (warning,) = keystore_key_check(None)
    assert (warning.id, warning.level) == ("certauth.W001", checks.WARNING)


@pytest.mark.parametrize(("key", "warned"), [("", True), ("configured-key", False)])
def test_deploy_check_in_process(settings, key, warned):
    settings.FAC_KEYSTORE_KEY = key
    out, err = io.StringIO(), io.StringIO()
    call_command("check", "--deploy", "--tag", "security", stdout=out, stderr=err)
    assert ("certauth.W001" in out.getvalue() + err.getvalue()) is warned
