"""Public PKI endpoints: CRLs (RFC 5280) and OCSP (RFC 6960); no login needed."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from certauth import ocsp, services
from certauth.models import CertificateAuthority

log = logging.getLogger(__name__)

# A CRL is re-signed when less than this is left before its nextUpdate
# (the same margin as services.refresh_due_crls).
CRL_REFRESH_MARGIN = dt.timedelta(hours=6)
OCSP_MAX_REQUEST = 64 * 1024


def crl_url(ca: CertificateAuthority) -> str | None:
    base = settings.FAC_PUBLIC_URL
    return f"{base}/app/cert/crl/{ca.name}.crl" if base else None


def ocsp_url() -> str | None:
    base = settings.FAC_PUBLIC_URL
    return f"{base}/app/cert/ocsp" if base else None


def current_crl(ca: CertificateAuthority) -> bytes:
    """The CA's CRL, re-signed when missing or close to its nextUpdate."""
    if (
        ca.crl_der
        and ca.crl_next_update
        and ca.crl_next_update - CRL_REFRESH_MARGIN > timezone.now()
    ):
        return bytes(ca.crl_der)
    services.generate_crl(ca)
    ca.refresh_from_db(fields=["crl_der", "crl_next_update", "crl_number"])
    return bytes(ca.crl_der)


@require_http_methods(["GET", "HEAD"])
def crl(request: HttpRequest, name: str) -> HttpResponse:
    ca = CertificateAuthority.objects.local().filter(name=name).first()
    if ca is None or not ca.has_key:
        raise Http404("No such CA.")
    response = HttpResponse(current_crl(ca), content_type="application/pkix-crl")
    response["Cache-Control"] = "max-age=300"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ocsp_responder(request: HttpRequest, encoded: str = "") -> HttpResponse:
    if request.method == "POST":
        # RFC 6960, A.1: POST carries the DER request as application/ocsp-request.
        body = request.read(OCSP_MAX_REQUEST + 1)
        if len(body) > OCSP_MAX_REQUEST:
            body = b""
    else:
        # RFC 6960, A.1: GET {url}/{url-encoding of base-64 encoding of the DER request}.
        try:
            body = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            body = b""
    try:
        der = ocsp.respond(body)
    except Exception:  # noqa: BLE001 - never a 500 page to an OCSP client
        log.exception("OCSP request failed")
        der = ocsp.internal_error()
    return HttpResponse(der, content_type="application/ocsp-response")
