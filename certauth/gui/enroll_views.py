"""CMP > Enrollment Requests: list, detail, create, edit, approve, reject, delete.

The views are thin: every change goes through ``certauth.services``, which
logs it; a refusal from the services is shown as a form error or a message.
"""

from __future__ import annotations

import copy

from django.conf import settings
from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView, FormView, TemplateView

from certauth import profiles, services
from certauth.gui import cmp_commands
from certauth.gui.access import ManageRequiredMixin, StaffRequiredMixin, actor
from certauth.gui.enroll_forms import EnrollmentForm
from certauth.gui.enrollment_pages import issuing_ca, with_states
from certauth.gui.listing import Column, Listing
from certauth.models import Enrollment
from certauth.x509 import EXT_KEY_USAGE_LABELS, KEY_USAGE_LABELS

STATUS_CHOICES = [("", "All"), *Enrollment.Status.choices]

COLUMNS = [
    Column("method", "Method", ["method"]),
    Column("status", "Status", ["status"]),
    Column("type", "Category", ["kind", "type"]),
    Column("reference", "Enrollment ID", ["reference"]),
    Column("subject", "Subject", ["subject"]),
    Column("ca", "CA", ["ca__name"]),
    Column("renewable", "Renewable Before Expiry (Days)", ["renewable_days"]),
    Column("updated", "Updated At", ["updated"]),
]


def _status_filter(queryset: QuerySet[Enrollment], status: str) -> QuerySet[Enrollment]:
    return queryset.filter(status=status) if status in Enrollment.Status.values else queryset


def _search(queryset: QuerySet[Enrollment], text: str) -> QuerySet[Enrollment]:
    return queryset.filter(
        Q(reference__icontains=text) | Q(subject__icontains=text) | Q(ca__name__icontains=text)
    )


class EnrollmentListView(StaffRequiredMixin, TemplateView):
    template_name = "enrollments/list.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        listing = Listing(
            self.request,
            Enrollment.objects.select_related("ca"),
            columns=[copy.copy(column) for column in COLUMNS],
            default_sort="reference",
            search=_search,
            search_label="Enrollment ID, subject or CA",
            status_filter=_status_filter,
            status_choices=STATUS_CHOICES,
        )
        context.update(
            title="Enrollment Requests",
            listing=listing,
            columns=listing.columns,
            enrollments=listing.page.object_list,
            current_url=self.request.get_full_path(),
        )
        return context


class EnrollmentDetailView(StaffRequiredMixin, DetailView):
    model = Enrollment
    template_name = "enrollments/detail.html"
    context_object_name = "enrollment"

    def get_queryset(self) -> QuerySet[Enrollment]:
        return Enrollment.objects.select_related("ca", "trusted_ca")

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        enrollment = self.object
        typed = self.request.GET.get("fortigate_ca", "").strip()
        valid_name = bool(cmp_commands.FORTIGATE_NAME.match(typed))
        fortigate_ca = typed if valid_name else cmp_commands.DEFAULT_FORTIGATE_CA_NAME
        context.update(
            certificates=with_states(
                enrollment.certificates.select_related("ca").order_by("-created", "-pk")
            ),
            issuing=issuing_ca(enrollment),
            commands=cmp_commands.commands(
                enrollment, device_base_url(self.request), fortigate_ca_name=fortigate_ca
            ),
            fortigate_ca_error=bool(typed) and not valid_name,
            public_url_set=bool(settings.FAC_PUBLIC_URL),
            key_usage_labels=[KEY_USAGE_LABELS.get(k, k) for k in enrollment.key_usage],
            ext_key_usage_labels=[EXT_KEY_USAGE_LABELS.get(k, k) for k in enrollment.ext_key_usage],
        )
        return context


class EnrollmentCreateView(ManageRequiredMixin, FormView):
    template_name = "enrollments/form.html"
    form_class = EnrollmentForm

    def get_initial(self) -> dict:
        return {
            "key_usage": list(profiles.DEFAULT_ENROLLMENT_KEY_USAGE),
            "validity_days": profiles.DEFAULT_CERTIFICATE_DAYS,
            "renewable_days": 0,
            "type": Enrollment.Type.REGULAR,
            "method": Enrollment.Method.AUTOMATIC,
            "kind": "service",
            "enabled": True,
        }

    def form_valid(self, form: EnrollmentForm) -> HttpResponse:
        arguments = form.service_arguments()
        # The enrollment is usable at once; with the manual method each of its
        # certificate requests then waits for an administrator (RFC 9483, 4.4).
        try:
            enrollment = services.create_enrollment(
                reference=form.cleaned_data["reference"],
                password=form.cleaned_data["password"] or "",
                actor=actor(self.request),
                **arguments,
            )
        except (services.ServiceError, services.InvalidInput) as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, f"Enrollment request {enrollment.reference} was created.")
        return redirect("enrollment_detail", pk=enrollment.pk)

    def get_context_data(self, **kwargs) -> dict:
        return super().get_context_data(title="Create enrollment request", **kwargs)


class EnrollmentEditView(ManageRequiredMixin, FormView):
    template_name = "enrollments/form.html"
    form_class = EnrollmentForm

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        self.enrollment = get_object_or_404(Enrollment, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict:
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = self.enrollment
        kwargs.pop("initial", None)
        return kwargs

    def form_valid(self, form: EnrollmentForm) -> HttpResponse:
        password = form.cleaned_data["password"] or None  # empty keeps the stored one
        try:
            services.update_enrollment(
                self.enrollment,
                password=password,
                actor=actor(self.request),
                **form.service_arguments(),
            )
        except (services.ServiceError, services.InvalidInput) as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, f"Enrollment request {self.enrollment.reference} was saved.")
        return redirect("enrollment_detail", pk=self.enrollment.pk)

    def get_context_data(self, **kwargs) -> dict:
        return super().get_context_data(
            title=f"Edit enrollment request {self.enrollment.reference}",
            enrollment=self.enrollment,
            **kwargs,
        )


class EnrollmentStatusView(ManageRequiredMixin, View):
    """Approve or reject (POST only)."""

    http_method_names = ["post"]
    status: str = ""
    verb: str = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        enrollment = get_object_or_404(Enrollment, pk=pk)
        try:
            services.update_enrollment(enrollment, status=self.status, actor=actor(request))
        except (services.ServiceError, services.InvalidInput) as exc:
            messages.error(request, f"Enrollment request {enrollment.reference}: {exc}")
        else:
            messages.success(request, f"Enrollment request {enrollment.reference} was {self.verb}.")
        return _back(request, enrollment)


class EnrollmentDeleteView(ManageRequiredMixin, TemplateView):
    """GET asks for confirmation; POST deletes."""

    template_name = "enrollments/delete.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        self.enrollment = get_object_or_404(Enrollment, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context.update(
            enrollment=self.enrollment,
            certificate_count=self.enrollment.certificates.count(),
        )
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        reference = self.enrollment.reference
        try:
            services.delete_enrollment(self.enrollment, actor=actor(request))
        except (services.ServiceError, services.InvalidInput) as exc:
            messages.error(request, f"Enrollment request {reference}: {exc}")
            return redirect("enrollment_detail", pk=pk)
        messages.success(request, f"Enrollment request {reference} was deleted.")
        return redirect("enrollment_list")


def device_base_url(request: HttpRequest) -> str:
    """The server as devices reach it: FAC_PUBLIC_URL, else the address this page came from."""
    return settings.FAC_PUBLIC_URL or f"{request.scheme}://{request.get_host()}"


def _back(request: HttpRequest, enrollment: Enrollment) -> HttpResponse:
    """Return to the list (with its filters) or the detail page, wherever the button was."""
    target = request.POST.get("next", "")
    list_url = reverse("enrollment_list")
    if target.startswith(list_url) and "//" not in target:
        return HttpResponseRedirect(target)
    return redirect("enrollment_detail", pk=enrollment.pk)
