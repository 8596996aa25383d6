"""Certificate Management > End Entities: Users and Local Services.

Devices enrolled over CMP (Certificate.Kind.DEVICE) are listed under Local
Services. A certificate is created from an uploaded CSR, or with a key the
server generates: then the key is never stored; it leaves once, in a PKCS#12
under the administrator's passphrase that the result page's link downloads for
this session, a few minutes, once (certauth.gui.once keeps it sealed until then).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from certauth import keystore, services
from certauth import x509 as x509util
from certauth.gui import expiry_filter, once
from certauth.gui import forms as gui_forms
from certauth.gui.access import ManageRequiredMixin, StaffRequiredMixin, actor, can_manage
from certauth.gui.listing import STATUS_CHOICES as LIST_STATUS_CHOICES
from certauth.gui.listing import Column, Listing
from certauth.gui.views_common import (
    PKCS12_TYPE,
    attachment,
    certificate_download,
    describe_certificate,
    safe_filename,
    selected_ids,
)
from certauth.models import Certificate, CertificateAuthority, CertificateQuerySet

USERS, SERVICES = "users", "services"
KINDS = {
    USERS: [Certificate.Kind.USER],
    SERVICES: [Certificate.Kind.LOCAL_SERVICE, Certificate.Kind.DEVICE],
}
TITLE = {USERS: "User Certificates", SERVICES: "Local Service Certificates"}
# The kind a certificate created on each page gets, and the EKU ticked by default.
CREATE_KIND = {USERS: Certificate.Kind.USER, SERVICES: Certificate.Kind.LOCAL_SERVICE}
DEFAULT_EKU = {USERS: ["clientAuth"], SERVICES: ["serverAuth"]}
GONE_MESSAGE = (
    "The PKCS#12 file was already downloaded, or its time ran out: the private key is not "
    "kept, so it cannot be downloaded again. Create a new certificate if it was lost."
)

STATUS_HOLD = "hold"
# The lists' status filter, with certificates on hold apart from the revoked ones.
STATUS_CHOICES = [
    *[choice for choice in LIST_STATUS_CHOICES if choice[0] != "all"],
    (STATUS_HOLD, "On hold"),
    ("all", "All"),
]

COLUMNS = [
    Column("name", "Certificate ID", ["name"]),
    Column("subject", "Subject", ["subject"]),
    Column("issuer", "Issuer", ["ca__subject"]),
    Column("status", "Status", ["status", "not_after"]),
    Column("expiry", "Expiry", ["not_after"]),
    Column("created", "Issued", ["created"]),
]

LIST_FIELDS = [
    "name",
    "kind",
    "serial",
    "subject",
    "status",
    "revocation_reason",
    "not_after",
    "created",
    "ca__name",
    "ca__subject",
]


def list_url(cert: Certificate) -> str:
    return f"/cert/{USERS if cert.kind == Certificate.Kind.USER else SERVICES}/"


def cert_status_filter(queryset: CertificateQuerySet, status: str) -> CertificateQuerySet:
    if status == "":
        # Active and pending, as with_status() defines each. Written as "not revoked"
        # (the stored statuses are active, pending and revoked): SQLite without ANALYZE
        # statistics would otherwise pick the status index and sort most of the table,
        # where this way it walks the index of the sort column and stops after one page.
        return queryset.exclude(
            status__in=[Certificate.Status.REVOKED, Certificate.Status.EXPIRED]
        ).filter(not_after__gt=timezone.now())
    if status == "all":
        return queryset
    # A certificate on hold is revoked with reason certificateHold; the lists tell it apart.
    hold = Q(
        status=Certificate.Status.REVOKED, revocation_reason=Certificate.Reason.CERTIFICATE_HOLD
    )
    if status == STATUS_HOLD:
        return queryset.filter(hold)
    if status == Certificate.Status.REVOKED:
        return queryset.with_status(status).exclude(hold)
    return queryset.with_status(status)


def cert_search(queryset: QuerySet, text: str) -> QuerySet:
    """Subject, certificate ID, serial (with or without colons) and issuer."""
    query = Q(subject__icontains=text) | Q(name__icontains=text)
    serial = text.replace(":", "").upper()
    if serial:
        query |= Q(serial__icontains=serial)
    # Few CAs: match their subjects first rather than join on every row.
    issuers = list(
        CertificateAuthority.objects.filter(subject__icontains=text).values_list("pk", flat=True)
    )
    if issuers:
        query |= Q(ca_id__in=issuers)
    return queryset.filter(query)


class CertificateListView(StaffRequiredMixin, TemplateView):
    template_name = "certs/list.html"
    section = SERVICES

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Only the columns shown: sorting 100,000 rows with their PEM would be the slow part.
        queryset = (
            Certificate.objects.filter(kind__in=KINDS[self.section])
            .select_related("ca")
            .only(*LIST_FIELDS)
        )
        expires_days = expiry_filter.requested_days(self.request)
        queryset = expiry_filter.expiring(queryset, expires_days)
        listing = Listing(
            self.request,
            queryset,
            columns=COLUMNS,
            default_sort="-created",
            search=cert_search,
            search_label="Subject, issuer, certificate ID or serial",
            status_filter=cert_status_filter,
            status_choices=STATUS_CHOICES,
        )
        context.update(
            title=TITLE[self.section],
            section=self.section,
            listing=listing,
            expires_days=expires_days,
        )
        return context


class CertificateCreateView(ManageRequiredMixin, once.OneTimeFormView):
    """Create New: a valid submission issues one certificate, whatever the clicks.

    With a CSR the browser goes to the new certificate; with a key made here, to
    the result page, whose link downloads the PKCS#12 once (certauth.gui.once).
    """

    template_name = "certs/create.html"
    form_class = gui_forms.CertificateCreateForm
    section = SERVICES
    once_form = "certificate-create"
    once_repeat_message = "This form was already submitted: no second certificate was issued."

    def once_fallback_url(self) -> str:
        return f"/cert/{self.section}/"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["ext_key_usage_initial"] = DEFAULT_EKU[self.section]
        return kwargs

    def get_context_data(self, **kwargs):
        kwargs.update(
            title=f"Create New {'User' if self.section == USERS else 'Local Service'} Certificate",
            nav_active=f"/cert/{self.section}/",
            no_ca=not CertificateAuthority.objects.usable().exists(),
        )
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        repeated = self.take_form_token()
        if repeated is not None:
            return repeated
        data = form.cleaned_data
        common = {
            "ca": data["ca"],
            "key_usage": data["key_usage"],
            "ext_key_usage": data["ext_key_usage"],
            "days": data["validity_days"],
            "kind": CREATE_KIND[self.section],
            "name": data["name"],
            "hash_name": data["hash_name"] or None,
            "actor": actor(self.request),
        }
        try:
            if data["source"] == form.CSR:
                cert = services.issue_from_csr(
                    csr_data=data["csr_data"], sans=data["sans"] or None, **common
                )
            else:
                key = x509util.generate_private_key(**gui_forms.key_arguments(data["key"]))
                cert = services.issue_certificate(
                    subject=data["subject"],
                    public_key=key.public_key(),
                    sans=data["sans"],
                    **common,
                )
        except (services.InvalidInput, services.ServiceError, keystore.KeystoreError) as exc:
            self.form_failed()
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        if data["source"] == form.CSR:
            messages.success(self.request, f"Certificate {cert.name} was issued.")
            return self.form_done(f"/cert/{cert.pk}/")
        bundle = pkcs12.serialize_key_and_certificates(
            name=cert.name.encode(),
            key=key,
            cert=cert.certificate,
            cas=[ca.certificate for ca in cert.ca.chain()] or None,
            encryption_algorithm=serialization.BestAvailableEncryption(data["passphrase"].encode()),
        )
        download = once.stash_download(
            self.request,
            bundle,
            f"{cert.name or cert.serial}.p12",
            PKCS12_TYPE,
        )
        return self.form_done(f"/cert/{cert.pk}/issued/{download}/")


class CertificateIssuedView(ManageRequiredMixin, TemplateView):
    """The result of Create New with a server-generated key: the PKCS#12, once."""

    template_name = "certs/issued.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cert = get_object_or_404(Certificate.objects.select_related("ca"), pk=self.kwargs["pk"])
        key = self.kwargs["key"]
        context.update(
            title="Certificate Issued",
            cert=cert,
            nav_active=list_url(cert),
            list_url=list_url(cert),
            create_url=f"{list_url(cert)}new/",
            expires=once.download_expiry(self.request, key),
            download_url=f"/cert/{cert.pk}/issued/{key}/download/",
        )
        return context


class CertificateIssuedDownloadView(ManageRequiredMixin, View):
    """The PKCS#12 of the result page, once: then it is deleted."""

    def get(self, request: HttpRequest, pk: int, key: str) -> HttpResponse:
        taken = once.take_download(request, key)
        if taken is None:
            messages.error(request, GONE_MESSAGE)
            return redirect(f"/cert/{pk}/issued/{key}/")
        return attachment(*taken)


class CertificateDetailView(StaffRequiredMixin, TemplateView):
    template_name = "certs/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        cert = get_object_or_404(
            Certificate.objects.select_related("ca", "enrollment"), pk=self.kwargs["pk"]
        )
        context.update(
            title=f"Certificate: {cert.name or cert.serial_colons}",
            cert=cert,
            info=describe_certificate(cert.certificate),
            nav_active=list_url(cert),
            list_url=list_url(cert),
            revoke_form=gui_forms.RevokeForm(),
            on_hold=cert.status == Certificate.Status.REVOKED
            and cert.revocation_reason == Certificate.Reason.CERTIFICATE_HOLD,
        )
        return context


class CertificateExportView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        cert = get_object_or_404(Certificate, pk=pk)
        if fmt not in ("pem", "der"):
            raise Http404("Unknown format.")
        return certificate_download([cert.certificate], cert.name or cert.serial, fmt)


def _revoke(request: HttpRequest, cert: Certificate, reason: str) -> None:
    try:
        services.revoke_certificate(cert, reason=reason, actor=actor(request))
    except (services.InvalidInput, services.ServiceError) as exc:
        messages.error(request, str(exc))
    else:
        done = "put on hold" if reason == Certificate.Reason.CERTIFICATE_HOLD else "revoked"
        messages.success(request, f"Certificate {cert.name} ({cert.serial_colons}) was {done}.")


def _delete(request: HttpRequest, cert: Certificate) -> bool:
    try:
        services.delete_certificate(cert, actor=actor(request))
    except (services.InvalidInput, services.ServiceError) as exc:
        messages.error(request, str(exc))
        return False
    messages.success(request, f"Certificate {cert.name} ({cert.serial_colons}) was deleted.")
    return True


class CertificateRevokeView(ManageRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cert = get_object_or_404(Certificate, pk=pk)
        form = gui_forms.RevokeForm(request.POST)
        if form.is_valid():
            _revoke(request, cert, form.cleaned_data["reason"])
        else:
            messages.error(request, "Choose a revocation reason.")
        return redirect(f"/cert/{cert.pk}/")


class CertificateUnrevokeView(ManageRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cert = get_object_or_404(Certificate, pk=pk)
        try:
            services.unrevoke_certificate(cert, actor=actor(request))
        except (services.InvalidInput, services.ServiceError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Certificate {cert.name} was released from hold.")
        return redirect(f"/cert/{cert.pk}/")


class CertificateDeleteView(ManageRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cert = get_object_or_404(Certificate, pk=pk)
        if _delete(request, cert):
            return redirect(list_url(cert))
        return redirect(f"/cert/{cert.pk}/")


class CertificateBulkView(StaffRequiredMixin, View):
    """Toolbar actions on the selected rows: export (PEM bundle or one DER), revoke, delete."""

    section = SERVICES

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        back = f"/cert/{self.section}/"
        if action in ("revoke", "delete") and not can_manage(request.user):
            raise PermissionDenied
        certs = list(
            Certificate.objects.filter(
                kind__in=KINDS[self.section], pk__in=selected_ids(request)
            ).order_by("pk")
        )
        if not certs:
            messages.warning(request, "Select at least one certificate first.")
            return redirect(back)
        if action in ("export", "export-der"):
            if action == "export-der" and len(certs) > 1:
                messages.warning(request, "DER holds one certificate: select one, or export PEM.")
                return redirect(back)
            stem = (
                (certs[0].name or certs[0].serial)
                if len(certs) == 1
                else f"{self.section}-certificates"
            )
            return certificate_download(
                [c.certificate for c in certs],
                safe_filename(stem),
                "der" if action == "export-der" else "pem",
            )
        if action == "revoke":
            form = gui_forms.RevokeForm(request.POST if "confirm" in request.POST else None)
            if not form.is_valid():
                return render(
                    request,
                    "includes/confirm_revoke.html",
                    {
                        "title": "Revoke Certificates",
                        "objects": certs,
                        "form": form,
                        "nav_active": back,
                        "action_url": request.path,
                        "back": back,
                    },
                )
            for cert in certs:
                _revoke(request, cert, form.cleaned_data["reason"])
            return redirect(back)
        if action == "delete":
            for cert in certs:
                _delete(request, cert)
            return redirect(back)
        messages.error(request, "Unknown action.")
        return redirect(back)
