"""Enrollment pages, dashboard counts, expiry filters and the CA tree, through the test client.

The browser tests (test_browser_enrollment_pages.py) drive the same pages with openssl cmp; these check the
states, the filters' edges and bad input quickly.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from certauth import services
from certauth.gui.ca_tree import ca_tree
from certauth.gui.views_dashboard import attention, expiry_timeline
from certauth.models import Certificate, CertificateRequest, Enrollment, LogEntry

pytestmark = pytest.mark.django_db

SECRET = "Zebra-Quartz-9917-secret"


@pytest.fixture
def chain(root_ca):
    return root_ca, services.create_ca(
        name="gui.sub", subject="CN=GUI Sub CA", key_type="ec", parent=root_ca
    )


def issue(ca, cn: str, enrollment=None, **kwargs) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return services.issue_certificate(
        ca=ca,
        subject=x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]),
        public_key=key.public_key(),
        enrollment=enrollment,
        **kwargs,
    )


def states_on(page: str) -> list[str]:
    start = page.index('id="certificates"')
    return [
        part.split("</span>", 1)[0].split(">")[-1]
        for part in page[start:].split('class="status status-')[1:]
    ]


def test_cmp_page_names_the_intermediate_and_lists_states(admin_client, chain):
    root, sub = chain
    enrollment = services.create_enrollment(
        reference="fgt-a", password=SECRET, ca=sub, subject="CN=fgt-a", allow_reenrollment=True
    )
    revoked = issue(sub, "revoked", enrollment)
    services.revoke_certificate(revoked, reason="keyCompromise")
    held = issue(sub, "held", enrollment)
    services.revoke_certificate(held, reason="certificateHold")
    issue(sub, "superseded", enrollment, status=Certificate.Status.SUPERSEDED)
    expired = issue(sub, "expired", enrollment, status=Certificate.Status.SUPERSEDED)
    Certificate.objects.filter(pk=expired.pk).update(not_after=timezone.now())
    issue(sub, "waiting", enrollment, status=Certificate.Status.PENDING)
    issue(sub, "active", enrollment)
    page = admin_client.get(f"/cmp/enrollments/{enrollment.pk}/").content.decode()
    assert sorted(states_on(page)) == sorted(
        ["Revoked", "On hold", "Superseded", "Expired", "Awaiting confirmation", "Active"]
    )
    assert f'href="/ca/{sub.pk}/export/pem/"' in page
    assert f'href="/ca/{sub.pk}/export/chain/"' in page
    assert f'href="/ca/{root.pk}/export/pem/"' not in page
    assert "-srvcert gui.sub.pem" in page
    assert SECRET not in page


def test_cmp_page_rejects_a_bad_fortigate_name(admin_client, root_ca):
    enrollment = services.create_enrollment(reference="fgt-b", password=SECRET, ca=root_ca)
    response = admin_client.get(
        f"/cmp/enrollments/{enrollment.pk}/", {"fortigate_ca": "bad name; rm"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "A FortiOS certificate name has 1 to 35 letters" in page
    assert " CA_Cert_1 " in response.context["commands"].fortigate_generate
    assert "rm" not in response.context["commands"].fortigate_generate


def test_public_url_is_the_server_the_commands_name(admin_client, root_ca, settings):
    settings.FAC_PUBLIC_URL = "http://ca.example.net:8080"
    enrollment = services.create_enrollment(reference="fgt-c", password=SECRET, ca=root_ca)
    commands = admin_client.get(f"/cmp/enrollments/{enrollment.pk}/").context["commands"]
    assert " http://ca.example.net:8080 /app/cert/cmp2 " in commands.fortigate_generate
    assert "-server ca.example.net:8080 " in commands.openssl


def test_scep_page_shares_the_ca_block_and_the_states(admin_client, chain):
    _root, sub = chain
    enrollment = services.create_enrollment(
        reference="scep-a", password=SECRET, ca=sub, subject="CN=scep-a", protocol="scep"
    )
    issue(sub, "scep-a", enrollment, status=Certificate.Status.PENDING)
    page = admin_client.get(f"/scep/enrollments/{enrollment.pk}/").content.decode()
    assert 'id="issuing-ca"' in page and "Import <strong>gui.sub</strong>" in page
    assert f'href="/ca/{sub.pk}/export/chain/"' in page
    assert states_on(page) == ["Awaiting confirmation"]
    assert SECRET not in page


def test_dashboard_counts(admin_client, root_ca):
    now = timezone.now()
    enrollment = services.create_enrollment(reference="fgt-d", password=SECRET, ca=root_ca)
    for protocol in ("cmp", "scep", "scep"):
        CertificateRequest.objects.create(
            enrollment=enrollment, reference="fgt-d", protocol=protocol, operation="ir"
        )
    soon = issue(root_ca, "soon", days=10)
    issue(root_ca, "later", days=60)
    issue(root_ca, "user-soon", days=5, kind=Certificate.Kind.USER)
    issue(root_ca, "pending-soon", days=5, status=Certificate.Status.PENDING)
    LogEntry.objects.log("CMP ir failed", level="error", log_type=30401)
    old = LogEntry.objects.log("CMP ir failed", level="error", log_type=30401)
    LogEntry.objects.filter(pk=old.pk).update(timestamp=now - dt.timedelta(hours=25))
    stats = {s.key: s for group in attention(timezone.now()).values() for s in group}
    assert stats["waiting-requests"].count == 3
    assert (stats["waiting-cmp"].count, stats["waiting-scep"].count) == (1, 2)
    assert stats["awaiting-confirmation-services"].count == 1
    assert stats["expiring-30-services"].count == 1 and stats["expiring-30-users"].count == 1
    assert stats["expiring-90-services"].count == 2
    assert stats["failures-cmp"].count == 1 and stats["failures-scep"].count == 0
    assert stats["failures-cmp"].url == "/logging/logs/?period=24h&log_type=30401"
    assert stats["expiring-30-services"].url == "/cert/services/?status=active&expires=30"
    # Each link lists what its count counts.
    for key in ("expiring-30-services", "expiring-90-services", "expiring-30-users"):
        listing = admin_client.get(stats[key].url).context["listing"]
        assert len(listing.page) == stats[key].count, key
    timeline = expiry_timeline(timezone.now())
    assert [bar["count"] for bar in timeline["bars"][:10]] == [1, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    assert timeline["total"] == 3 and len(timeline["bars"]) == 26
    assert soon.pk in {c.pk for c in Certificate.objects.current()}
    page = admin_client.get("/").content.decode()
    assert 'id="expiry-timeline"' in page and "<desc" in page


def test_expiry_filter_edges(admin_client, root_ca):
    issue(root_ca, "soon", days=10)
    for value in ("abc", "0", "-5", "99999", ""):
        response = admin_client.get("/cert/services/", {"expires": value})
        assert response.status_code == 200 and response.context["expires_days"] is None
    response = admin_client.get("/ca/local/", {"expires": "30"})
    assert response.status_code == 200 and len(response.context["listing"].page) == 0
    assert len(admin_client.get("/ca/local/", {"expires": "3650"}).context["listing"].page) == 1


def test_ca_tree_follows_the_status_filter(admin_client, chain):
    root, sub = chain
    services.revoke_ca(root)
    leaf = services.create_ca(name="gui.leaf", subject="CN=Leaf", key_type="ec", parent=sub)
    tree = ca_tree(selected=[sub.pk, leaf.pk])
    assert [n.ca.name for n in tree] == ["gui.root"] and not tree[0].selected
    assert [n.ca.name for n in tree[0].children] == ["gui.sub"]
    assert tree[0].children[0].children[0].ca == leaf
    page = admin_client.get("/ca/local/").content.decode()
    assert "ca-node-outside" in page  # the revoked root, shown as the issuer
    assert [n.ca.name for n in ca_tree()] == ["gui.root"]


def test_enrollment_list_pending_filter_matches_the_count(admin_client, root_ca):
    services.create_enrollment(
        reference="fgt-p", password=SECRET, ca=root_ca, status=Enrollment.Status.PENDING
    )
    services.create_enrollment(reference="fgt-q", password=SECRET, ca=root_ca)
    stats = {s.key: s for group in attention(timezone.now()).values() for s in group}
    listing = admin_client.get(stats["pending-enrollments"].url).context["listing"]
    assert stats["pending-enrollments"].count == 1 == len(listing.page)
