"""Every page at 1280 and 1024 px: a full-page screenshot of each, and no page wider than
its window.

Logged in as an administrator, the test visits every page the navigation links to (read
from the page, so a new entry is covered without touching this file), the header's
links, and the main detail and form pages: a root and an intermediate CA, a certificate
(and one on hold), the result page of a certificate with a server-generated key, a CMP and
a SCEP enrollment, a log entry, a CMP and a SCEP trace, an administrator, the create and
edit forms, the login and 404 pages. Each is saved as
test-artifacts/screenshots/<page>-<width>.png. The test fails when
document.documentElement.scrollWidth exceeds the window's width, naming each such page
and its widest elements. The Django admin (/admin/), not the product's look, is left out.
"""

from __future__ import annotations

import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certauth import enrollment as engine
from certauth import services
from certauth.models import Certificate, CertificateRequest, Enrollment, LogEntry
from cmp import services as cmp_services
from scep.models import SCEPTrace
from tests.gui.conftest import SCREENSHOTS
from tests.gui.test_cmp_general_debug import CERTCONF, IR

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = (1280, 1024)
DEVICE = "C=CZ, O=Example, CN=fw1.example.net"
CHALLENGE = "s3cret-Challenge"

# The elements that stick out of the window. Those that also stick out of their parent
# come first (the widest first): the one to fix is among them; the rightmost follow.
OVERFLOW_JS = """(width) => {
    const describe = (el) => {
        let text = el.tagName.toLowerCase();
        if (el.id) text += "#" + el.id;
        if (typeof el.className === "string" && el.className.trim())
            text += "." + el.className.trim().split(/\\s+/).join(".");
        const box = el.getBoundingClientRect();
        const words = (el.innerText || "").trim().replace(/\\s+/g, " ").slice(0, 40);
        return `${text} (${Math.round(box.width)} px wide, right edge at `
            + `${Math.round(box.right)} px: "${words}")`;
    };
    const out = [], sources = [];
    for (const el of document.querySelectorAll("body *")) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.right <= width + 0.5) continue;
        out.push(el);
        const parent = el.parentElement && el.parentElement.getBoundingClientRect();
        if (parent && box.right > parent.right + 0.5) sources.push(el);
    }
    const wide = (a, b) => b.getBoundingClientRect().width - a.getBoundingClientRect().width;
    const right = (a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right;
    const listed = [...sources.sort(wide), ...out.sort(right)].filter((el, i, all) =>
        all.indexOf(el) === i);
    return {scrollWidth: document.documentElement.scrollWidth,
            widest: listed.slice(0, 3).map(describe)};
}"""


def _issue(ca, cn: str) -> Certificate:
    return services.issue_certificate(
        ca=ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        kind=Certificate.Kind.LOCAL_SERVICE,
        sans=[x509.DNSName(cn)],
    )


@pytest.fixture
def pki(readonly_user):
    """What an administrator has after a day's work: CAs, certificates, enrollments,
    traces, log lines, a second administrator."""
    from tests.scep.conftest import SCEP

    root = services.create_ca(
        name="fac.root", subject="C=CZ, O=Example, CN=Example Root CA", key_type="rsa"
    )
    sub = services.create_ca(
        name="fac.issuing",
        subject="C=CZ, O=Example, OU=Network Devices, CN=Example Issuing CA 2026",
        key_type="ec",
        parent=root,
    )
    cert = _issue(sub, "www.example.com")
    held = _issue(sub, "held.example.com")
    services.revoke_certificate(held, reason=Certificate.Reason.CERTIFICATE_HOLD)
    cmp_enrollment = services.create_enrollment(
        reference="fgt-branch-office-01",
        password="Cmp-Secret-4471",
        ca=sub,
        subject="CN=fgt-branch-office-01.example.com",
        allowed_sans=["DNS:fgt-branch-office-01.example.com", "IP:192.0.2.44"],
    )
    scep_enrollment = services.create_enrollment(
        reference="fw1",
        password=CHALLENGE,
        ca=root,
        protocol="scep",
        subject=DEVICE,
        allowed_sans=["DNS:fw1.example.net"],
    )
    cmp_services.set_debug(True)
    SCEP().enroll(DEVICE, challenge=CHALLENGE)
    cmp_services.set_debug(False)
    # Pending Requests: one waiting for approval, one approved.
    for reference in ("fw-waiting", "fw-decided"):
        subject = f"C=CZ, O=Example, CN={reference}.example.net"
        services.create_enrollment(
            reference=reference,
            password=CHALLENGE,
            ca=root,
            protocol="scep",
            subject=subject,
            method=Enrollment.Method.MANUAL,
        )
        SCEP().enroll(subject, challenge=CHALLENGE)
    engine.approve_request(CertificateRequest.objects.get(reference="fw-decided").pk)
    cmp_trace = cmp_services.record_trace(
        source_ip="192.0.2.5",
        transaction_id="ab" * 16,
        sender_kid="fgt-branch-office-01",
        body_type="ir",
        lines="ir from 192.0.2.5: accepted",
        request_der=IR,
        response_der=CERTCONF,
    )
    return {
        "root": root,
        "sub": sub,
        "cert": cert,
        "held": held,
        "cmp": cmp_enrollment,
        "scep": scep_enrollment,
        "cmp_trace": cmp_trace,
        "scep_trace": SCEPTrace.objects.filter(operation="PKIOperation").first(),
        "log": LogEntry.objects.order_by("-pk").first(),
        "readonly": readonly_user,
    }


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "dashboard"


def _issued_page(page, url: str, ca) -> str:
    """The result page of a certificate with a server-generated key, made through its form."""
    page.goto(f"{url}/cert/services/new/")
    page.select_option("select[name=ca]", str(ca.pk))
    page.check("input[name=source][value=generate]")
    page.fill("input[name=common_name]", "generated.example.com")
    page.fill("input[name=passphrase]", "screenshot-p12")
    page.fill("input[name=passphrase_again]", "screenshot-p12")
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("#issued-line")
    return page.url.removeprefix(url)


def _exported_page(page, url: str, ca) -> str:
    """The result page of Export Key and Cert, made through its form."""
    page.goto(f"{url}/ca/{ca.pk}/export/pkcs12/")
    page.fill("input[name=passphrase]", "screenshot-p12")
    page.fill("input[name=passphrase_again]", "screenshot-p12")
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("#exported-line")
    return page.url.removeprefix(url)


def test_every_page_fits_its_window(page, login, live_server, pki):
    url = live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    too_wide: list[str] = []
    shots = 0

    def visit(name: str, path: str, width: int) -> None:
        nonlocal shots
        page.goto(f"{url}{path}")
        page.wait_for_load_state("load")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        shots += 1
        found = page.evaluate(OVERFLOW_JS, width)
        if found["scrollWidth"] > width:
            too_wide.append(
                f"{name} ({path}) at {width} px: {found['scrollWidth']} px wide; widest: "
                + "; ".join(found["widest"])
            )

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        visit("login", "/login/", width)
        login(page)
        nav = page.eval_on_selector_all(
            "nav.app-nav a[href], header.app-header a[href]",
            "links => links.map(a => a.getAttribute('href'))",
        )
        pages = {_name(path): path for path in dict.fromkeys(nav) if not path.startswith("/admin")}
        p = pki
        readonly_pk = p["readonly"].pk
        pages.update(
            {
                "ca-root": f"/ca/{p['root'].pk}/",
                "ca-intermediate": f"/ca/{p['sub'].pk}/",
                "ca-create": "/ca/local/new/",
                "ca-import": "/ca/local/import/",
                "ca-trusted-import": "/ca/trusted/import/",
                "ca-export-pkcs12": f"/ca/{p['root'].pk}/export/pkcs12/",
                "cert": f"/cert/{p['cert'].pk}/",
                "cert-on-hold": f"/cert/{p['held'].pk}/",
                "cert-create-service": "/cert/services/new/",
                "cert-create-user": "/cert/users/new/",
                "cert-list-on-hold": "/cert/services/?status=hold",
                "cmp-enrollment": f"/cmp/enrollments/{p['cmp'].pk}/",
                "cmp-enrollment-create": "/cmp/enrollments/add/",
                "cmp-enrollment-edit": f"/cmp/enrollments/{p['cmp'].pk}/edit/",
                "cmp-enrollment-delete": f"/cmp/enrollments/{p['cmp'].pk}/delete/",
                "scep-enrollment": f"/scep/enrollments/{p['scep'].pk}/",
                "scep-enrollment-create": "/scep/enrollments/add/",
                "scep-enrollment-edit": f"/scep/enrollments/{p['scep'].pk}/edit/",
                "log-entry": f"/logging/logs/{p['log'].pk}/",
                "cmp-trace": f"/debug/cmp/{p['cmp_trace'].pk}/",
                "scep-trace": f"/debug/scep/{p['scep_trace'].pk}/",
                "administrator": f"/system/administrators/{readonly_pk}/",
                "administrator-create": "/system/administrators/new/",
                "not-found": "/no/such/page/",
            }
        )
        pages["cert-issued"] = _issued_page(page, url, p["sub"])
        pages["ca-exported"] = _exported_page(page, url, p["sub"])
        for name, path in pages.items():
            visit(name, path, width)

    assert shots >= 2 * 40, f"only {shots} screenshots"
    assert not too_wide, "Pages wider than their window:\n" + "\n".join(too_wide)
