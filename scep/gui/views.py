"""Certificate Management > SCEP: General and Enrollment Requests; the SCEP exchanges of
Debug > Others > SCEP/CMP.

The views are thin: settings go through ``scep.services``, enrollments
through ``certauth.services`` (both log every change); held certificate
requests are approved or rejected on the shared Pending Requests page.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from certauth import profiles, services
from certauth.gui.access import ManageRequiredMixin, StaffRequiredMixin, actor, can_manage
from certauth.gui.enrollment_pages import issuing_ca, with_states
from certauth.gui.listing import Column, Listing
from certauth.models import Certificate, CertificateRequest, Enrollment
from certauth.services import InvalidInput, ServiceError
from certauth.x509 import EXT_KEY_USAGE_LABELS, KEY_USAGE_LABELS
from cmp.gui import asn1tree, traces
from scep import services as scep_services
from scep.gui.commands import commands
from scep.gui.forms import METHOD_CHOICES, SCEPEnrollmentForm, SCEPSettingsForm
from scep.models import SCEPTrace, WildcardMember

METHOD_LABELS: dict[str, str] = {str(value): label for value, label in METHOD_CHOICES}
STATUS_CHOICES = [("", "All"), *Enrollment.Status.choices]
COLUMNS = [
    Column("method", "Method", ["method"]),
    Column("status", "Status", ["status"]),
    Column("type", "Category", ["kind", "type"]),
    Column("scope", "Type", ["wildcard"]),
    Column("reference", "Enrollment ID", ["reference"]),
    Column("subject", "Subject", ["subject", "subject_pattern"]),
    Column("ca", "CA", ["ca__name"]),
    Column("renewable", "Renewable Before Expiry (Days)", ["renewable_days"]),
    Column("updated", "Updated At", ["updated"]),
]


def base_url(request: HttpRequest) -> str:
    """The server as devices reach it: FAC_PUBLIC_URL, else the address this page came from."""
    return settings.FAC_PUBLIC_URL or f"{request.scheme}://{request.get_host()}"


# --- SCEP > General ---------------------------------------------------------------------


class SCEPGeneralView(StaffRequiredMixin, View):
    """Everyone on the staff sees the settings; only managers may save them."""

    template_name = "scep/general.html"

    def _form(self, data: Any = None) -> SCEPSettingsForm:
        cfg = scep_services.config()
        initial = {name: getattr(cfg, name) for name in scep_services.SETTINGS}
        initial["default_ca"] = cfg.default_ca_id
        form = SCEPSettingsForm(data, initial=initial, config=cfg)
        if not can_manage(self.request.user):
            for field in form.fields.values():
                field.disabled = True
        return form

    def _render(self, request: HttpRequest, form: SCEPSettingsForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "title": "SCEP General",
                "form": form,
                "config": scep_services.config(),
                "scep_url": f"{base_url(request)}/app/cert/scep/",
            },
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, self._form())

    def post(self, request: HttpRequest) -> HttpResponse:
        if not can_manage(request.user):
            raise PermissionDenied("Read-only administrators cannot change the SCEP settings.")
        form = self._form(request.POST)
        if form.is_valid():
            try:
                _cfg, changes = scep_services.update_settings(
                    actor=actor(request), **form.service_arguments()
                )
            except InvalidInput as exc:
                form.add_error(None, str(exc))
            else:
                if changes:
                    messages.success(request, "SCEP settings saved.")
                else:
                    messages.info(request, "No changes.")
                return redirect("scep_general")
        return self._render(request, form)


# --- SCEP > Enrollment Requests -----------------------------------------------------------


def _status_filter(queryset: QuerySet[Enrollment], status: str) -> QuerySet[Enrollment]:
    return queryset.filter(status=status) if status in Enrollment.Status.values else queryset


def _search(queryset: QuerySet[Enrollment], text: str) -> QuerySet[Enrollment]:
    return queryset.filter(
        Q(reference__icontains=text)
        | Q(subject__icontains=text)
        | Q(subject_pattern__icontains=text)
        | Q(ca__name__icontains=text)
    )


def scep_enrollments() -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(protocol=Enrollment.Protocol.SCEP)
        .select_related("ca")
        .annotate(
            waiting=Count(
                "requests",
                filter=Q(requests__state=CertificateRequest.State.WAITING),
                distinct=True,
            ),
            members=Count("scep_members", distinct=True),
        )
    )


class SCEPEnrollmentListView(StaffRequiredMixin, TemplateView):
    template_name = "scep/enrollments.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        listing = Listing(
            self.request,
            scep_enrollments(),
            columns=[copy.copy(column) for column in COLUMNS],
            default_sort="reference",
            search=_search,
            search_label="Enrollment ID, subject or CA",
            status_filter=_status_filter,
            status_choices=STATUS_CHOICES,
        )
        context.update(
            title="SCEP Enrollment Requests",
            listing=listing,
            columns=listing.columns,
            enrollments=listing.page.object_list,
            method_labels=METHOD_LABELS,
            waiting_total=CertificateRequest.objects.filter(
                protocol=Enrollment.Protocol.SCEP, state=CertificateRequest.State.WAITING
            ).count(),
        )
        return context


def _detail_context(request: HttpRequest, enrollment: Enrollment, password: str | None = None):
    members = WildcardMember.objects.filter(wildcard=enrollment).select_related("enrollment")
    enrollment_ids = [enrollment.pk, *(m.enrollment_id for m in members)]
    parent = WildcardMember.objects.filter(enrollment=enrollment).select_related("wildcard").first()
    return {
        "title": f"SCEP enrollment request {enrollment.reference}",
        "enrollment": enrollment,
        "method_label": METHOD_LABELS.get(enrollment.method, enrollment.get_method_display()),
        "commands": commands(enrollment, base_url(request), password),
        "password": password,
        "ca_chain": enrollment.ca.chain(),
        "issuing": issuing_ca(enrollment),
        "certificates": with_states(
            Certificate.objects.filter(enrollment_id__in=enrollment_ids)
            .select_related("ca", "enrollment")
            .order_by("-created", "-pk")
        ),
        "members": members,
        "parent": parent.wildcard if parent is not None else None,
        "waiting": CertificateRequest.objects.filter(
            enrollment_id__in=enrollment_ids, state=CertificateRequest.State.WAITING
        ).count(),
        "key_usage_labels": [KEY_USAGE_LABELS.get(k, k) for k in enrollment.key_usage],
        "ext_key_usage_labels": [EXT_KEY_USAGE_LABELS.get(k, k) for k in enrollment.ext_key_usage],
        "nav_active": "/scep/enrollments/",
    }


class SCEPEnrollmentDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        enrollment = get_object_or_404(
            Enrollment.objects.select_related("ca"), pk=pk, protocol=Enrollment.Protocol.SCEP
        )
        return render(request, "scep/enrollment_detail.html", _detail_context(request, enrollment))


class SCEPEnrollmentCreateView(ManageRequiredMixin, View):
    template_name = "scep/enrollment_form.html"

    def _form(self, data: Any = None) -> SCEPEnrollmentForm:
        cfg = scep_services.config()
        initial = {
            "scope": "regular",
            "password_mode": SCEPEnrollmentForm.PASSWORD_DEFAULT
            if cfg.has_password
            else SCEPEnrollmentForm.PASSWORD_RANDOM,
            "ca": cfg.default_ca_id,
            "key_usage": list(profiles.DEFAULT_ENROLLMENT_KEY_USAGE),
            "validity_days": profiles.DEFAULT_CERTIFICATE_DAYS,
            "renewable_days": 0,
            "method": cfg.method,
            "kind": Certificate.Kind.LOCAL_SERVICE,
            "enabled": True,
        }
        return SCEPEnrollmentForm(data, initial=initial, has_default=cfg.has_password)

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {"form": self._form(), "title": "Create SCEP enrollment request"},
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self._form(request.POST)
        if form.is_valid():
            try:
                enrollment = services.create_enrollment(
                    reference=form.cleaned_data["reference"],
                    password=form.challenge or "",
                    actor=actor(request),
                    **form.service_arguments(),
                )
            except (ServiceError, InvalidInput) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"SCEP enrollment request {enrollment.reference} was created."
                )
                shown = (
                    form.challenge
                    if form.cleaned_data["password_mode"] == SCEPEnrollmentForm.PASSWORD_RANDOM
                    else None
                )
                # A generated password is shown on this one page, never stored in clear.
                context = _detail_context(request, enrollment, shown)
                response = render(request, "scep/enrollment_detail.html", context)
                response["Cache-Control"] = "no-store"
                return response
        return render(
            request,
            self.template_name,
            {"form": form, "title": "Create SCEP enrollment request"},
        )


class SCEPEnrollmentEditView(ManageRequiredMixin, View):
    template_name = "scep/enrollment_form.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.enrollment = get_object_or_404(
            Enrollment, pk=kwargs["pk"], protocol=Enrollment.Protocol.SCEP
        )
        return super().dispatch(request, *args, **kwargs)

    def _form(self, data: Any = None) -> SCEPEnrollmentForm:
        return SCEPEnrollmentForm(
            data,
            instance=self.enrollment,
            has_default=scep_services.config().has_password,
        )

    def _render(self, request: HttpRequest, form: SCEPEnrollmentForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "enrollment": self.enrollment,
                "title": f"Edit SCEP enrollment request {self.enrollment.reference}",
                "nav_active": "/scep/enrollments/",
            },
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, self._form())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = self._form(request.POST)
        if form.is_valid():
            try:
                enrollment = services.update_enrollment(
                    self.enrollment,
                    password=form.challenge,
                    actor=actor(request),
                    **form.service_arguments(),
                )
            except (ServiceError, InvalidInput) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"SCEP enrollment request {enrollment.reference} was saved."
                )
                if form.cleaned_data["password_mode"] == SCEPEnrollmentForm.PASSWORD_RANDOM:
                    response = render(
                        request,
                        "scep/enrollment_detail.html",
                        _detail_context(request, enrollment, form.challenge),
                    )
                    response["Cache-Control"] = "no-store"
                    return response
                return redirect("scep_enrollment_detail", pk=enrollment.pk)
        return self._render(request, form)


class SCEPEnrollmentResetView(ManageRequiredMixin, View):
    """FortiAuthenticator's Reset: the device lost its certificate and key (POST only)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        enrollment = get_object_or_404(Enrollment, pk=pk, protocol=Enrollment.Protocol.SCEP)
        try:
            services.reset_enrollment(enrollment, actor=actor(request))
        except (ServiceError, InvalidInput) as exc:
            messages.error(request, f"SCEP enrollment request {enrollment.reference}: {exc}")
        else:
            messages.success(
                request,
                f"SCEP enrollment request {enrollment.reference} was reset: its next request "
                "enrolls afresh and replaces the current certificate.",
            )
        if request.POST.get("next") == "list":
            return redirect("scep_enrollments")
        return redirect("scep_enrollment_detail", pk=enrollment.pk)


# --- Debug > Others > SCEP/CMP: the SCEP exchanges -----------------------------------------

SCEP_CONTENT_TYPE = "application/x-pki-message"


class TraceDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        trace = get_object_or_404(SCEPTrace, pk=pk)
        request_der = bytes(trace.request_der or b"")
        response_der = bytes(trace.response_der or b"")
        return render(
            request,
            "scep/trace.html",
            {
                "trace": trace,
                "request_size": len(request_der),
                "response_size": len(response_der),
                "request_tree": asn1tree.decode(request_der),
                "response_tree": asn1tree.decode(response_der),
                "related": SCEPTrace.objects.filter(transaction_id=trace.transaction_id)
                .exclude(pk=trace.pk)
                .exclude(transaction_id="")
                .defer("request_der", "response_der", "lines", "csr_text")
                .order_by("id"),
                "nav_active": "/debug/cmp/",
                **traces.scep_diagram(trace),
            },
        )


class TraceDERView(StaffRequiredMixin, View):
    part: str = "request"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        trace = get_object_or_404(SCEPTrace, pk=pk)
        data = bytes(getattr(trace, f"{self.part}_der") or b"")
        if not data:
            return HttpResponse(
                f"This exchange has no {self.part}.", status=404, content_type="text/plain"
            )
        content_type = SCEP_CONTENT_TYPE
        if self.part == "response" and trace.content_type:
            content_type = trace.content_type
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="scep-{trace.pk}-{self.part}.der"'
        return response
