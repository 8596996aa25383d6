"""Certificate Authorities > CRLs: one row per local CA, download and regenerate."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from certauth import keystore, services
from certauth.gui.access import ManageRequiredMixin, StaffRequiredMixin, actor, can_manage
from certauth.gui.views_common import CRL_DER_TYPE, PEM_TYPE, attachment
from certauth.models import Certificate, CertificateAuthority


def _revoked_count(ca: CertificateAuthority) -> int:
    return (
        ca.issued.filter(status=Certificate.Status.REVOKED).count()
        + ca.children.filter(revoked_at__isnull=False).count()
    )


def _crl_response(ca: CertificateAuthority, fmt: str) -> HttpResponse:
    if not ca.crl_der:
        raise Http404("No CRL is stored for this CA.")
    der = bytes(ca.crl_der)
    if fmt == "der":
        return attachment(der, f"{ca.name}.crl", CRL_DER_TYPE)
    crl = x509.load_der_x509_crl(der)
    return attachment(crl.public_bytes(serialization.Encoding.PEM), f"{ca.name}.crl.pem", PEM_TYPE)


class CRLListView(StaffRequiredMixin, TemplateView):
    template_name = "crl/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cas = list(
            CertificateAuthority.objects.local()
            .exclude(encrypted_key__isnull=True)
            .order_by("name")
        )
        for ca in cas:
            crl_listed = len(x509.load_der_x509_crl(bytes(ca.crl_der))) if ca.crl_der else None
            # Values for templates/crl/list.html, set on the row's instance; the
            # model does not declare them.
            ca.revoked_count = _revoked_count(ca)  # type: ignore[attr-defined]
            ca.crl_listed = crl_listed  # type: ignore[attr-defined]
        context.update(title="CRLs", cas=cas)
        return context


class CRLDownloadView(StaffRequiredMixin, View):
    """GET: the stored CRL. POST (administrators only): sign one first if none is stored yet."""

    def dispatch(self, request, *args, **kwargs):
        if kwargs["fmt"] not in ("pem", "der"):
            raise Http404("Unknown format.")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        ca = get_object_or_404(CertificateAuthority.objects.local(), pk=pk)
        if not ca.crl_der:
            messages.info(request, f"CA {ca.name} has no CRL yet: generate it first.")
            return redirect("/ca/crls/")
        return _crl_response(ca, fmt)

    def post(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        if not can_manage(request.user):
            raise PermissionDenied
        ca = get_object_or_404(CertificateAuthority.objects.local(), pk=pk)
        if not ca.crl_der:
            try:
                services.generate_crl(ca, actor=actor(request))
            except (services.ServiceError, services.InvalidInput, keystore.KeystoreError) as exc:
                messages.error(request, str(exc))
                return redirect("/ca/crls/")
            ca.refresh_from_db()
        return _crl_response(ca, fmt)


class CRLRegenerateView(ManageRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ca = get_object_or_404(CertificateAuthority.objects.local(), pk=pk)
        try:
            crl = services.generate_crl(ca, actor=actor(request))
        except (services.ServiceError, services.InvalidInput, keystore.KeystoreError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, f"CRL of {ca.name} was regenerated: {len(crl)} revoked certificate(s)."
            )
        return redirect("/ca/crls/")
