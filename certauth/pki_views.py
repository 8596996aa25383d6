"""Public PKI endpoints: CRLs (RFC 5280) and OCSP (RFC 6960); no login needed."""

from __future__ import annotations

import base64
import binascii
import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from certauth import ocsp, services
from certauth.models import CertificateAuthority

log = logging.getLogger(__name__)

OCSP_MAX_REQUEST = 64 * 1024


@require_http_methods(["GET", "HEAD"])
def crl(request: HttpRequest, name: str) -> HttpResponse:
    ca = CertificateAuthority.objects.local().filter(name=name).first()
    if ca is None or not ca.has_key:
        raise Http404("No such CA.")
    response = HttpResponse(services.current_crl(ca), content_type="application/pkix-crl")
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
