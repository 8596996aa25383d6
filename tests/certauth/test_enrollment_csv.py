"""import_enrollments and export_enrollments: fleet onboarding from a CSV file."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from certauth import keystore, services
from certauth.models import Enrollment, LogEntry

pytestmark = pytest.mark.django_db

HEADER = "reference,password,ca,subject,key_usage,ext_key_usage,days,renewable_days,type,protocol,category\n"


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, text: str):
    path = tmp_path / "fleet.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_creates_every_row(tmp_path, ec_root):
    path = write(
        tmp_path,
        HEADER
        + "fgt-1,pw-1,fac.cz.root,CN=fgt-1.branch,digitalSignature;keyEncipherment,clientAuth,90,30,regular,cmp,device\n"
        + "fgt-2,pw-2,fac.cz.root,CN=fgt-2.branch,,,,,,scep,\n",
    )
    out, _err = run("import_enrollments", path)
    assert out.strip() == "Created 2 enrollment(s)"
    first, second = Enrollment.objects.order_by("reference")
    assert (first.subject, first.key_usage, first.ext_key_usage) == (
        "CN=fgt-1.branch",
        ["digitalSignature", "keyEncipherment"],
        ["clientAuth"],
    )
    assert (first.validity_days, first.renewable_days, first.kind, first.protocol) == (
        90,
        30,
        "device",
        "cmp",
    )
    assert keystore.secret_for(first) == b"pw-1"
    assert (second.protocol, second.validity_days, second.key_usage) == (
        "scep",
        365,
        ["digitalSignature", "keyEncipherment"],
    )
    messages = list(LogEntry.objects.order_by("id").values_list("message", flat=True))
    assert messages[-3:] == [
        "CMP enrollment request 'fgt-1' was created",
        "SCEP enrollment request 'fgt-2' was created",
        f"2 enrollment requests were imported from {path}",
    ]
    assert "pw-1" not in "".join(messages)


def test_bad_file_stores_nothing(tmp_path, ec_root):
    services.create_enrollment(reference="taken", password="pw", ca=ec_root)
    before = (Enrollment.objects.count(), LogEntry.objects.count())
    path = write(
        tmp_path,
        HEADER
        + "ok-1,pw,fac.cz.root,,,,,,,,\n"
        + "taken,pw,fac.cz.root,,,,,,,,\n"
        + "has space,pw,fac.cz.root,,,,,,,,\n"
        + "no-pw,,fac.cz.root,,,,,,,,\n"
        + "bad-ca,pw,nope,,,,,,,,\n"
        + "bad-ku,pw,fac.cz.root,,signAll,,,,,,\n"
        + "bad-days,pw,fac.cz.root,,,,forever,,,,\n"
        + "ok-1,pw,fac.cz.root,,,,,,,,\n"
        + "too-long,pw,fac.cz.root,,,,99999,,,,\n",
    )
    with pytest.raises(CommandError) as exc:
        run("import_enrollments", path)
    assert str(exc.value) == f"Nothing was imported: 8 bad row(s) in {path}."
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_enrollments", path, stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "line 3: an enrollment with ID 'taken' already exists",
        "line 4: Invalid enrollment ID 'has space': 1-128 characters, no spaces.",
        "line 5: The enrollment password must not be empty.",
        "line 6: unknown CA 'nope'",
        "line 7: Unknown key usage signAll: use digitalSignature, nonRepudiation, keyEncipherment, "
        "dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly.",
        "line 8: days must be a whole number, not 'forever'.",
        "line 9: enrollment ID 'ok-1' is also on line 2",
        "line 10: Certificate validity must be between 1 and 36500 days.",
    ]
    assert (Enrollment.objects.count(), LogEntry.objects.count()) == before


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("reference,ca\nx,fac.cz.root\n", "line 1: missing column password"),
        (
            "reference,password,ca,colour\nx,pw,fac.cz.root,red\n",
            "line 1: unknown column colour (columns: reference, password, ca, subject, key_usage, "
            "ext_key_usage, days, renewable_days, type, protocol, category, trusted_ca)",
        ),
        ("reference,password,ca\n", "line 2: the file has no enrollments"),
        ("reference,password,ca\nx,pw,fac.cz.root,extra\n", "line 2: more fields than columns"),
    ],
)
def test_bad_header_or_shape(tmp_path, ec_root, text, problem):
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_enrollments", write(tmp_path, text), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [problem]
    assert not Enrollment.objects.exists()


def test_dry_run_stores_nothing(tmp_path, ec_root):
    path = write(tmp_path, "reference,password,ca\nfgt-1,pw,fac.cz.root\n")
    logged = LogEntry.objects.count()
    out, _ = run("import_enrollments", path, "--dry-run")
    assert out.strip() == "1 enrollment(s) would be created (dry run: nothing stored)"
    assert not Enrollment.objects.exists() and LogEntry.objects.count() == logged


def test_ten_thousand_rows(tmp_path, ec_root):
    rows = "".join(f"fgt-{i:05d},pw-{i},fac.cz.root\n" for i in range(10_000))
    path = write(tmp_path, "reference,password,ca\n" + rows)
    logged = LogEntry.objects.count()
    out, _ = run("import_enrollments", path)
    assert out.strip() == "Created 10000 enrollment(s)"
    assert Enrollment.objects.count() == 10_000
    assert keystore.secret_for(Enrollment.objects.get(reference="fgt-09999")) == b"pw-9999"
    assert LogEntry.objects.count() == logged + 10_001


def test_export_writes_the_import_format_without_passwords(tmp_path, ec_root, trusted_ca):
    services.create_enrollment(
        reference="fgt-1",
        password="secret-pw-1",
        ca=ec_root,
        subject="CN=fgt-1",
        ext_key_usage=["clientAuth", "serverAuth"],
    )
    services.create_enrollment(
        reference="dev-1", password="", ca=ec_root, type="device", trusted_ca=trusted_ca
    )
    out, _ = run("export_enrollments")
    assert out.splitlines() == [
        "reference,ca,subject,key_usage,ext_key_usage,days,renewable_days,type,protocol,category,trusted_ca",
        "dev-1,fac.cz.root,,digitalSignature;keyEncipherment,,365,0,device,cmp,service,vendor.root",
        "fgt-1,fac.cz.root,CN=fgt-1,digitalSignature;keyEncipherment,clientAuth;serverAuth,365,0,regular,cmp,service,",
    ]
    assert "secret-pw-1" not in out
    target = tmp_path / "out.csv"
    run("export_enrollments", "-o", str(target))
    assert target.read_text().splitlines() == out.splitlines()
    # The export, with a password column added, imports again as it was.
    Enrollment.objects.all().delete()
    rows = list(csv.reader(io.StringIO(out)))
    rows[0].insert(1, "password")
    for row in rows[1:]:
        row.insert(1, "new-pw" if row[0] == "fgt-1" else "")
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    run("import_enrollments", write(tmp_path, text.getvalue()))
    assert run("export_enrollments")[0] == out
