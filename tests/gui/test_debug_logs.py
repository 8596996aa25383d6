"""Debug > SCEP/CMP (filters, paging per transaction, sequence diagrams, bounded queries)
and the Logs page's links and readable users, through the Django test client."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certauth import events, services
from certauth.models import LogEntry
from cmp import services as cmp_services
from cmp.gui import sequence
from cmp.models import CMPTrace
from scep import services as scep_services
from scep.models import SCEPTrace

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IR = (FIXTURES / "cmp" / "ir.der").read_bytes()
CERTCONF = (FIXTURES / "cmp" / "certconf.der").read_bytes()
KEY_ID = "9f3a" * 10


def cmp_trace(**fields) -> CMPTrace:
    values = {
        "source_ip": "192.0.2.5",
        "transaction_id": "aa" * 16,
        "sender_kid": "fgt100f",
        "body_type": "ir",
        "lines": "PKIBody type: ir\nCMP response sent: ip, 900 bytes",
        "request_der": IR,
        "response_der": CERTCONF,
    }
    values.update(fields)
    return cmp_services.record_trace(**values)


def scep_trace(**fields) -> SCEPTrace:
    values = {
        "source_ip": "192.0.2.9",
        "method": "POST",
        "path": "/app/cert/scep",
        "operation": "PKIOperation",
        "message_type": "PKCSReq (19)",
        "transaction_id": "scep-tx-1",
        "pki_status": "SUCCESS",
        "request_der": b"\x30\x00",
        "response_der": b"\x30\x00",
    }
    values.update(fields)
    return scep_services.record_trace(**values)


def enrollment_exchange(transaction_id: str = "aa" * 16, **fields) -> list[CMPTrace]:
    ir = cmp_trace(transaction_id=transaction_id, **fields)
    conf = cmp_trace(
        transaction_id=transaction_id,
        body_type="certConf",
        lines="PKIBody type: certConf\nCMP response sent: pkiConf, 300 bytes",
        **fields,
    )
    return [ir, conf]


# --- Sequence diagram ----------------------------------------------------------------------


def test_a_successful_enrollment_reads_ir_ip_certconf_pkiconf():
    steps = sequence.cmp_messages(enrollment_exchange())
    assert [(step.label, step.to_server) for step in steps] == [
        ("ir", True),
        ("ip", False),
        ("certConf", True),
        ("pkiConf", False),
    ]
    assert not any(step.failed for step in steps)
    svg = str(sequence.svg(steps))
    assert svg.startswith("<svg") and svg.count('class="step ') == 4
    assert "step failed" not in svg


def test_a_failed_exchange_marks_the_failing_step_in_red_with_its_failinfo():
    ir = cmp_trace(
        transaction_id="bb" * 16,
        error="badPOP: the POP signature does not verify",
        lines="PKIBody type: ir\nRequest rejected: badPOP: ...\n"
        "CMP response sent: ip (rejection), 500 bytes",
    )
    steps = sequence.cmp_messages([ir])
    assert [step.label for step in steps] == ["ir", "ip (rejection)"]
    failed = sequence.first_failure(steps)
    assert failed is steps[1] and failed.detail.startswith("badPOP")
    svg = str(sequence.svg(steps))
    step = re.search(r'<g class="step failed response" data-label="ip \(rejection\)">.*?</g>', svg)
    assert step, svg
    assert "#c62828" in step.group(0) and "badPOP: the POP signature" in step.group(0)
    assert svg.count("step failed") == 1  # the ir itself is not marked


def test_an_error_answer_and_a_client_error_are_marked():
    refused = cmp_trace(
        transaction_id="cc" * 16,
        body_type="kur",
        error="badCertTemplate: same key",
        lines="CMP response sent: error, 200 bytes",
    )
    client_error = cmp_trace(
        transaction_id="cc" * 16, body_type="error", lines="CMP response sent: pkiConf, 10 bytes"
    )
    steps = sequence.cmp_messages([refused, client_error])
    assert [(step.label, step.failed) for step in steps] == [
        ("kur", False),
        ("error", True),
        ("error", True),
        ("pkiConf", False),
    ]


def test_a_scep_enrollment_with_polling():
    traces = [
        scep_trace(pki_status="PENDING"),
        scep_trace(message_type="CertPoll (20)", pki_status="PENDING"),
        scep_trace(message_type="CertPoll (20)", pki_status="SUCCESS"),
    ]
    steps = sequence.scep_messages(traces)
    assert [step.label for step in steps] == [
        "POST PKCSReq",
        "CertRep PENDING",
        "POST CertPoll",
        "CertRep PENDING",
        "POST CertPoll",
        "CertRep SUCCESS",
    ]
    failed = sequence.scep_messages(
        [scep_trace(pki_status="FAILURE", fail_info="badRequest (2)", fail_text="no challenge")]
    )
    assert failed[1].failed and failed[1].detail == "badRequest (2) no challenge"


# --- Debug page: filters, paging, bounded --------------------------------------------------


def transaction_ids(response) -> list[str]:
    return [group["transaction_id"] for group in response.context["groups"]]


def test_debug_pages_25_transactions_at_a_time(admin_client):
    for number in range(30):
        enrollment_exchange(f"{number:032x}")
    first = admin_client.get("/debug/cmp/")
    assert len(first.context["groups"]) == 25
    assert transaction_ids(first)[0] == f"{29:032x}"  # newest first
    assert all(len(group["traces"]) == 2 for group in first.context["groups"])
    html = first.content.decode()
    assert "Transactions 1–25 of 30" in html and "?page=2" in html
    second = admin_client.get("/debug/cmp/?page=2")
    assert transaction_ids(second) == [f"{number:032x}" for number in range(4, -1, -1)]
    assert admin_client.get("/debug/cmp/?page=x").status_code == 200
    assert len(admin_client.get("/debug/cmp/?page=99").context["groups"]) == 5  # the last page


def test_debug_filters(admin_client, root_ca):
    enrollment_exchange("01" * 16, source_ip="192.0.2.1", sender_kid="fgt-a")
    CMPTrace.objects.update(created=timezone.now() - dt.timedelta(hours=1))
    failed = cmp_trace(
        transaction_id="02" * 16,
        source_ip="198.51.100.2",
        sender_kid="fgt-b",
        body_type="p10cr",
        error="badRequest: no",
        http_status=200,
    )
    loose = cmp_trace(transaction_id="", body_type="", error="badMessageCheck", http_status=400)
    scep_trace()

    def shown(query: str) -> list[str]:
        return transaction_ids(admin_client.get(f"/debug/cmp/?{query}"))

    assert shown("") == ["", "02" * 16, "01" * 16]
    assert shown("enrollment=fgt-a") == ["01" * 16]
    assert shown("source_ip=198.51.100") == ["02" * 16]
    assert shown("body_type=certConf") == ["01" * 16]
    assert shown("errors=on") == ["", "02" * 16]
    assert shown("transaction=0202") == ["02" * 16]
    since = (failed.created - dt.timedelta(minutes=5)).astimezone(timezone.get_current_timezone())
    assert shown(f"since={since:%Y-%m-%dT%H:%M}") == ["", "02" * 16]
    assert shown(f"until={since:%Y-%m-%dT%H:%M}") == ["01" * 16]
    assert loose.pk
    # A SCEP message type shows the SCEP section only; a CMP one the CMP section only.
    response = admin_client.get("/debug/cmp/?body_type=PKCSReq")
    assert "groups" not in response.context and len(response.context["scep_groups"]) == 1
    response = admin_client.get("/debug/cmp/?body_type=ir")
    assert "scep_groups" not in response.context
    response = admin_client.get("/debug/cmp/?protocol=scep&errors=on")
    assert response.context["scep_groups"] == []
    assert "No SCEP exchanges match the filters." in response.content.decode()
    # Bad input is ignored, never a 500.
    assert admin_client.get("/debug/cmp/?since=yesterday&body_type=zz").status_code == 200


def test_a_signed_requests_enrollment_is_found_through_its_transaction(admin_client, root_ca):
    from cmp.models import CMPTransaction

    enrollment = services.create_enrollment(reference="fgt-signed", password="x" * 12, ca=root_ca)
    cmp_trace(transaction_id="0d" * 16, sender_kid=KEY_ID, body_type="kur")
    CMPTransaction.objects.create(
        transaction_id="0d" * 16,
        enrollment=enrollment,
        sender_kid=KEY_ID,
        body_type="kur",
        state=CMPTransaction.State.FAILED,
        server_nonce="00",
    )
    cmp_trace(transaction_id="0e" * 16)
    response = admin_client.get("/debug/cmp/?enrollment=fgt-signed")
    assert transaction_ids(response) == ["0d" * 16]


def test_the_list_never_loads_a_body(admin_client):
    for number in range(5):
        enrollment_exchange(f"{number:032x}")
    scep_trace()
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/debug/cmp/")
    assert response.status_code == 200
    for query in queries.captured_queries:
        sql = query["sql"]
        if "cmp_cmptrace" in sql or "scep_sceptrace" in sql:
            # Only their sizes: LENGTH("request_der"), never the column itself.
            bare = re.sub(r'LENGTH\("[a-z_]+"\."(request|response)_der"\)', "", sql)
            assert "request_der" not in bare and "response_der" not in bare, sql
    assert len(queries.captured_queries) < 20


def test_trace_page_shows_its_transaction_diagram_and_the_named_tree(admin_client):
    ir, conf = enrollment_exchange("0f" * 16)
    html = admin_client.get(f"/debug/cmp/{ir.pk}/").content.decode()
    assert '<svg class="sequence"' in html and 'data-label="certConf"' in html
    assert '<span class="asn1-field">certTemplate</span>' in html
    assert '<details data-depth="0" open>' in html
    scep = scep_trace(pki_status="FAILURE", fail_info="badRequest (2)")
    html = admin_client.get(f"/debug/scep/{scep.pk}/").content.decode()
    assert "step failed" in html and "failed at CertRep FAILURE" in html


# --- Logs: users, links, parameters, raw download ------------------------------------------


@pytest.fixture
def issued(root_ca):
    enrollment = services.create_enrollment(reference="fgt-logs", password="x" * 12, ca=root_ca)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = services.issue_certificate(
        ca=root_ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fw.logs.example")]),
        public_key=key.public_key(),
        enrollment=enrollment,
    )
    return enrollment, cert


def test_log_rows_link_to_certificate_ca_enrollment_and_transaction(admin_client, issued):
    enrollment, cert = issued
    actor = events.Actor(user=KEY_ID, source_ip="192.0.2.44")
    confirmed = events.log(
        events.CERT_CONFIRMED, actor, subject=cert.subject, serial=cert.serial_colons
    )
    failed = events.log(
        events.CMP_REQUEST_FAILED,
        events.Actor(user="fgt-logs", source_ip="192.0.2.44"),
        body_type="kur",
        sender=KEY_ID,
        text="same key",
        failure="badCertTemplate",
        reference="fgt-logs",
        transaction_id="ab" * 16,
    )
    response = admin_client.get("/logging/logs/")
    rows = {entry.pk: entry for entry in response.context["entries"]}
    kinds = {link.kind: link.url for link in rows[confirmed.pk].links}
    assert kinds == {
        "certificate": f"/cert/{cert.pk}/",
        "ca": f"/ca/{cert.ca_id}/",
        "enrollment": f"/cmp/enrollments/{enrollment.pk}/",
    }
    # Signed with the key only: the User column names the enrollment, not the key ID.
    assert rows[confirmed.pk].display_user == "fgt-logs"
    assert rows[confirmed.pk].key_id == KEY_ID
    kinds = {link.kind: link.url for link in rows[failed.pk].links}
    assert kinds["enrollment"] == f"/cmp/enrollments/{enrollment.pk}/"
    assert kinds["transaction"] == f"/debug/cmp/?transaction={'ab' * 16}"
    signed = [e for e in response.context["entries"] if e.log_type_id == events.CERT_SIGNED.id][0]
    assert {link.kind for link in signed.links} == {"certificate", "ca", "enrollment"}
    created = [e for e in response.context["entries"] if e.log_type_id == events.CA_CREATED.id][0]
    assert [link.url for link in created.links] == [f"/ca/{cert.ca_id}/"]
    html = response.content.decode()
    assert f'href="/cert/{cert.pk}/"' in html
    assert f">{KEY_ID}<" not in html  # never in the User column
    detail = admin_client.get(f"/logging/logs/{confirmed.pk}/").content.decode()
    assert f'<dd class="mono" id="log-key-id">{KEY_ID}</dd>' in detail
    assert '<th scope="row">serial</th>' in detail and cert.serial_colons in detail
    assert '<th scope="row">subject</th>' in detail


def test_a_scep_enrollment_links_to_its_scep_page(admin_client, root_ca):
    enrollment = services.create_enrollment(
        reference="scep-dev", password="x" * 12, ca=root_ca, protocol="scep", subject="CN=scep-dev"
    )
    entry = [e for e in admin_client.get("/logging/logs/").context["entries"] if e.params][0]
    assert [link.url for link in entry.links] == [f"/scep/enrollments/{enrollment.pk}/"]


def test_a_key_id_without_anything_known_is_shortened(admin_client):
    entry = LogEntry.objects.log("x", user=KEY_ID, subcategory="CMP", log_type=30206)
    row = admin_client.get("/logging/logs/").context["entries"][0]
    assert row.pk == entry.pk and row.display_user == "key 9f3a9f3a…"


def test_links_are_resolved_per_page_not_per_row(admin_client, issued):
    _enrollment, cert = issued

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/logging/logs/").status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for number in range(30):
        events.log(
            events.CERT_CONFIRMED,
            events.Actor(user=KEY_ID),
            subject=cert.subject,
            serial=cert.serial_colons,
        )
        events.log(
            events.CMP_REQUEST_FAILED,
            events.Actor(user=f"dev{number}"),
            body_type="ir",
            sender=f"dev{number}",
            text="t",
            failure="badPOP",
            reference=f"dev{number}",
        )
    assert queries() <= few + 1  # the count


def test_raw_download_carries_srcip(admin_client):
    events.log(
        events.ADMIN_LOGIN, events.Actor(user="alice", source_ip="203.0.113.9"), user="alice"
    )
    events.log(events.CMP_DEBUG_CHANGED, events.Actor(user="cli"), state="enabled")
    response = admin_client.get("/logging/logs/download/")
    body = b"".join(response.streaming_content).decode()
    login = [line for line in body.splitlines() if "logged in" in line][0]
    assert login.endswith('user="alice" srcip="203.0.113.9"')
    debug = [line for line in body.splitlines() if "debug mode" in line][0]
    assert debug.endswith('user="cli" srcip=""')
