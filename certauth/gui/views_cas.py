"""Certificate Authorities > Local CAs and Trusted CAs: list, create, import, detail, export,
revoke, delete. Every change goes through certauth.services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import FormView, TemplateView

from certauth import keystore, services
from certauth.gui import expiry_filter, once
from certauth.gui import forms as gui_forms
from certauth.gui.access import ManageRequiredMixin, StaffRequiredMixin, actor, can_manage
from certauth.gui.ca_tree import ca_tree
from certauth.gui.listing import Column, Listing
from certauth.gui.views_common import (
    PKCS12_TYPE,
    attachment,
    certificate_download,
    describe_certificate,
    selected_ids,
)
from certauth.models import CertificateAuthority

LOCAL, TRUSTED = CertificateAuthority.Kind.LOCAL, CertificateAuthority.Kind.TRUSTED
# Keyed by CertificateAuthority.kind, a plain str on a loaded instance.
LIST_URL: dict[str, str] = {LOCAL: "/ca/local/", TRUSTED: "/ca/trusted/"}
TITLE: dict[str, str] = {LOCAL: "Local CAs", TRUSTED: "Trusted CAs"}

COLUMNS = [
    Column("name", "Certificate ID", ["name"]),
    Column("subject", "Subject", ["subject"]),
    Column("issuer", "Issuer", ["issuer"]),
    Column("status", "Status", ["revoked_at", "not_after"]),
    Column("expiry", "Expiry", ["not_after"]),
    Column("type", "CA Type", ["parent_id", "issuer"]),
]


def ca_status_filter(queryset: QuerySet, status: str) -> QuerySet:
    """CA statuses are derived: revoked, expired, not yet valid (pending), active."""
    now = timezone.now()
    live = queryset.filter(revoked_at__isnull=True)
    if status == "":  # active and pending
        return live.filter(not_after__gt=now)
    if status == "active":
        return live.filter(not_before__lte=now, not_after__gt=now)
    if status == "pending":
        return live.filter(not_before__gt=now)
    if status == "expired":
        return live.filter(not_after__lte=now)
    if status == "revoked":
        return queryset.filter(revoked_at__isnull=False)
    return queryset


def ca_search(queryset: QuerySet, text: str) -> QuerySet:
    serial = text.replace(":", "").upper()
    query = Q(name__icontains=text) | Q(subject__icontains=text) | Q(issuer__icontains=text)
    if serial:
        query |= Q(serial__icontains=serial)
    return queryset.filter(query)


def _service_error(request: HttpRequest, exc: Exception) -> None:
    messages.error(request, str(exc))


class CAListView(StaffRequiredMixin, TemplateView):
    template_name = "ca/list.html"
    kind = LOCAL

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        queryset = CertificateAuthority.objects.filter(kind=self.kind).annotate(
            issued_count=Count("issued")
        )
        expires_days = expiry_filter.requested_days(self.request)
        queryset = expiry_filter.expiring(queryset, expires_days)
        listing = Listing(
            self.request,
            queryset,
            columns=COLUMNS if self.kind == LOCAL else COLUMNS[:-1],
            default_sort="name",
            search=ca_search,
            search_label="Certificate ID, subject, issuer or serial",
            status_filter=ca_status_filter,
        )
        context.update(
            title=TITLE[self.kind],
            kind=self.kind,
            listing=listing,
            local=self.kind == LOCAL,
            expires_days=expires_days,
            ca_tree=ca_tree(timezone.now(), selected=self._selected(listing))
            if self.kind == LOCAL
            else [],
        )
        return context

    @staticmethod
    def _selected(listing: Listing) -> list[int]:
        """The CAs the list's filters select, on every page: what the tree shows."""
        return list(listing.queryset.order_by().values_list("pk", flat=True))


class CACreateView(ManageRequiredMixin, FormView):
    template_name = "ca/form.html"
    form_class = gui_forms.CACreateForm
    extra_context = {"title": "Create New Local CA", "nav_active": "/ca/local/"}

    def get_initial(self):
        initial = super().get_initial()
        parent = self.request.GET.get("parent")
        if parent and parent.isdigit():
            initial.update(ca_type=gui_forms.CACreateForm.INTERMEDIATE, parent=int(parent))
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            ca = services.create_ca(
                name=data["name"],
                subject=form.subject_text(),
                hash_name=data["hash_name"],
                days=data["validity_days"],
                parent=data["parent"],
                actor=actor(self.request),
                **gui_forms.key_arguments(data["key"]),
            )
        except (services.InvalidInput, services.ServiceError, keystore.KeystoreError) as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, f"Local CA {ca.name} was created.")
        return redirect(f"/ca/{ca.pk}/")


class CAImportView(ManageRequiredMixin, FormView):
    """Local CA: PKCS#12, or certificate and key. Trusted CA: certificate only."""

    template_name = "ca/form.html"
    kind = LOCAL

    def get_form_class(self):
        return gui_forms.CAImportForm if self.kind == LOCAL else gui_forms.TrustedCAImportForm

    def get_context_data(self, **kwargs):
        kwargs.update(
            title="Import Local CA" if self.kind == LOCAL else "Import Trusted CA",
            nav_active=LIST_URL[self.kind],
            submit="Import",
            multipart=True,
        )
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        passphrase = (data.get("passphrase") or "").encode() or None
        try:
            if self.kind == TRUSTED:
                ca = services.import_ca(
                    name=data["name"],
                    certificate_data=data["certificate_file"],
                    trusted=True,
                    actor=actor(self.request),
                )
            elif data["import_type"] == gui_forms.CAImportForm.PKCS12:
                ca = services.import_ca_pkcs12(
                    name=data["name"],
                    data=data["pkcs12_file"],
                    passphrase=passphrase,
                    actor=actor(self.request),
                )
            else:
                ca = services.import_ca(
                    name=data["name"],
                    certificate_data=data["certificate_file"],
                    key_data=data["key_file"],
                    key_passphrase=passphrase,
                    actor=actor(self.request),
                )
        except (services.InvalidInput, services.ServiceError) as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, f"{ca.get_kind_display()} {ca.name} was imported.")
        return redirect(f"/ca/{ca.pk}/")


class CADetailView(StaffRequiredMixin, TemplateView):
    template_name = "ca/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        ca = get_object_or_404(CertificateAuthority, pk=self.kwargs["pk"])
        context.update(
            title=f"{ca.get_kind_display()}: {ca.name}",
            ca=ca,
            info=describe_certificate(ca.certificate),
            nav_active=LIST_URL[ca.kind],
            list_url=LIST_URL[ca.kind],
            children=ca.children.order_by("name"),
            issued_count=ca.issued.count(),
            revoke_form=gui_forms.RevokeForm(),
            usable=CertificateAuthority.objects.usable().filter(pk=ca.pk).exists(),
        )
        return context


class CAExportView(StaffRequiredMixin, View):
    """The CA certificate as PEM or DER, or its chain up to the root as a PEM bundle."""

    def get(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        ca = get_object_or_404(CertificateAuthority, pk=pk)
        if fmt == "chain":
            return certificate_download(
                [c.certificate for c in ca.chain()], f"{ca.name}-chain", "pem"
            )
        if fmt not in ("pem", "der"):
            raise Http404("Unknown format.")
        return certificate_download([ca.certificate], ca.name, fmt)


class CAExportPKCS12View(ManageRequiredMixin, once.OneTimeFormView):
    """Export Key and Cert: the CA's key, certificate and chain under a typed passphrase.

    The PKCS#12 is kept for the result page's link, once (certauth.gui.once).
    """

    template_name = "ca/export_pkcs12.html"
    form_class = gui_forms.PKCS12ExportForm
    once_form = "ca-export"
    once_repeat_message = "This form was already submitted: the key was not exported again."

    def once_fallback_url(self) -> str:
        return f"/ca/{self.ca.pk}/"

    def dispatch(self, request, *args, **kwargs):
        self.ca = get_object_or_404(CertificateAuthority, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        kwargs.update(
            title=f"Export Key and Certificate: {self.ca.name}",
            ca=self.ca,
            nav_active=LIST_URL[self.ca.kind],
        )
        return super().get_context_data(**kwargs)

    def get(self, request, *args, **kwargs):
        if not self.ca.has_key:
            messages.error(request, f"CA {self.ca.name} has no private key to export.")
            return redirect(f"/ca/{self.ca.pk}/")
        return super().get(request, *args, **kwargs)

    def form_valid(self, form):
        ca = self.ca
        if not ca.has_key:
            messages.error(self.request, f"CA {ca.name} has no private key to export.")
            return redirect(f"/ca/{ca.pk}/")
        repeated = self.take_form_token()
        if repeated is not None:
            return repeated
        try:
            data = services.export_ca_pkcs12(
                ca, passphrase=form.cleaned_data["passphrase"], actor=actor(self.request)
            )
        except (keystore.KeystoreError, services.ServiceError, services.InvalidInput) as exc:
            self.form_failed()
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        download = once.stash_download(self.request, data, f"{ca.name}.p12", PKCS12_TYPE)
        return self.form_done(f"/ca/{ca.pk}/exported/{download}/")


class CAExportedView(ManageRequiredMixin, TemplateView):
    """The result of Export Key and Cert: the PKCS#12, once."""

    template_name = "ca/exported.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        ca = get_object_or_404(CertificateAuthority, pk=self.kwargs["pk"])
        key = self.kwargs["key"]
        context.update(
            title=f"Key and Certificate Exported: {ca.name}",
            ca=ca,
            nav_active=LIST_URL[ca.kind],
            expires=once.download_expiry(self.request, key),
            download_url=f"/ca/{ca.pk}/exported/{key}/download/",
        )
        return context


class CAExportedDownloadView(ManageRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int, key: str) -> HttpResponse:
        taken = once.take_download(request, key)
        if taken is None:
            messages.error(
                request,
                "The PKCS#12 file was already downloaded, or its time ran out. "
                "Export the key again if it was lost.",
            )
            return redirect(f"/ca/{pk}/exported/{key}/")
        return attachment(*taken)


class CARevokeView(ManageRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ca = get_object_or_404(CertificateAuthority, pk=pk)
        form = gui_forms.RevokeForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a revocation reason.")
            return redirect(f"/ca/{ca.pk}/")
        try:
            services.revoke_ca(ca, reason=form.cleaned_data["reason"], actor=actor(request))
        except (services.InvalidInput, services.ServiceError) as exc:
            _service_error(request, exc)
        else:
            messages.success(request, f"CA {ca.name} was revoked.")
        return redirect(f"/ca/{ca.pk}/")


class CADeleteView(ManageRequiredMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        ca = get_object_or_404(CertificateAuthority, pk=pk)
        try:
            services.delete_ca(ca, actor=actor(request))
        except (services.InvalidInput, services.ServiceError) as exc:
            _service_error(request, exc)
            return redirect(f"/ca/{ca.pk}/")
        messages.success(request, f"CA {ca.name} was deleted.")
        return redirect(LIST_URL[ca.kind])


class CABulkView(StaffRequiredMixin, View):
    """Toolbar actions on the rows selected in a CA list: export, revoke, delete."""

    kind = LOCAL

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        back = LIST_URL[self.kind]
        cas = list(
            CertificateAuthority.objects.filter(kind=self.kind, pk__in=selected_ids(request))
        )
        if action in ("revoke", "delete", "export-pkcs12") and not can_manage(request.user):
            raise PermissionDenied
        if not cas:
            messages.warning(request, "Select at least one CA first.")
            return redirect(back)
        if action in ("export", "export-der"):
            if action == "export-der" and len(cas) > 1:
                messages.warning(
                    request, "DER holds one certificate: select one CA, or export PEM."
                )
                return redirect(back)
            stem = cas[0].name if len(cas) == 1 else "ca-certificates"
            return certificate_download(
                [ca.certificate for ca in cas], stem, "der" if action == "export-der" else "pem"
            )
        if action == "export-pkcs12":
            if len(cas) != 1 or not cas[0].has_key:
                messages.warning(request, "Select one CA that has a private key.")
                return redirect(back)
            return redirect(f"/ca/{cas[0].pk}/export/pkcs12/")
        if action == "revoke":
            form = gui_forms.RevokeForm(request.POST if "confirm" in request.POST else None)
            if not form.is_valid():
                return render(
                    request,
                    "includes/confirm_revoke.html",
                    {
                        "title": "Revoke CAs",
                        "objects": cas,
                        "form": form,
                        "nav_active": back,
                        "action_url": request.path,
                        "back": back,
                    },
                )
            for ca in cas:
                try:
                    services.revoke_ca(ca, reason=form.cleaned_data["reason"], actor=actor(request))
                except (services.InvalidInput, services.ServiceError) as exc:
                    _service_error(request, exc)
                else:
                    messages.success(request, f"CA {ca.name} was revoked.")
            return redirect(back)
        if action == "delete":
            for ca in cas:
                try:
                    services.delete_ca(ca, actor=actor(request))
                except (services.InvalidInput, services.ServiceError) as exc:
                    _service_error(request, exc)
                else:
                    messages.success(request, f"CA {ca.name} was deleted.")
            return redirect(back)
        messages.error(request, "Unknown action.")
        return redirect(back)
