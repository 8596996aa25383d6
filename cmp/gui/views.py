"""CMP > General, CMP > Pending Requests, Debug > Others > SCEP/CMP, and the pcap dump."""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from certauth import enrollment as engine
from certauth.gui.access import ManageRequiredMixin, StaffRequiredMixin, actor, can_manage
from certauth.models import CertificateAuthority, CertificateRequest
from certauth.services import InvalidInput, ServiceError
from cmp import services as cmp_services
from cmp.gui import asn1tree, pcap, sequence, traces
from cmp.models import CMPTrace
from scep.gui import debug as scep_debug
from scep.models import SCEPTrace

CMP_CONTENT_TYPE = "application/pkixcmp"
DECIDED_SHOWN = 20


class CMPSettingsForm(forms.Form):
    enabled = forms.BooleanField(
        label="Enable CMP",
        required=False,
        help_text="When off, the CMP endpoint answers every request with systemUnavail.",
    )
    default_ca = forms.ModelChoiceField(
        label="Default CA",
        required=False,
        queryset=CertificateAuthority.objects.none(),
        empty_label="(none)",
    )
    confirm_wait = forms.IntegerField(
        label="Confirm wait time (seconds)",
        min_value=1,
        max_value=cmp_services.MAX_CONFIRM_WAIT,
        help_text="An issued certificate whose certConf does not come within this time is revoked.",
    )
    revoke_superseded = forms.BooleanField(
        label="Revoke after renewal (kur)",
        required=False,
        help_text="Once the certificate of a key update (kur) is confirmed, revoke the old "
        "certificate as superseded; off: it is marked Superseded and stays valid.",
    )
    revoke_reenrolled = forms.BooleanField(
        label="Revoke after re-enrollment (ir/cr)",
        required=False,
        help_text="Once the certificate of a re-enrollment (ir, cr, p10cr) is confirmed, revoke "
        "the enrollment's previous certificate as superseded.",
    )
    poll_interval = forms.IntegerField(
        label="Poll interval (seconds)",
        min_value=1,
        max_value=cmp_services.MAX_POLL_INTERVAL,
        help_text="The checkAfter sent to clients whose request waits for manual approval "
        "(CMP > Pending Requests).",
    )
    strict_header_checks = forms.BooleanField(
        label="Strict header checks",
        required=False,
        help_text="Apply every header rule of RFC 9483, 3.1 (messageTime present, senderKID "
        "with signatures, ...). OpenSSL's client and FortiGates meet them.",
    )
    rfc9481_only = forms.BooleanField(
        label="Only RFC 9481 algorithms",
        required=False,
        help_text="Refuse password-based MACs with SHA-1 (OpenSSL's and FortiGate's default).",
    )
    debug = forms.BooleanField(
        label="Debug mode",
        required=False,
        help_text="Record every CMP exchange for Debug > Others > SCEP/CMP.",
    )

    def __init__(self, *args, current_ca_id: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        queryset = CertificateAuthority.objects.usable()
        if current_ca_id:
            queryset = queryset | CertificateAuthority.objects.filter(pk=current_ca_id)
        self.fields["default_ca"].queryset = queryset.distinct().order_by("name")


class CMPGeneralView(StaffRequiredMixin, View):
    """Everyone on the staff sees the settings; only managers may save them."""

    template_name = "cmp/general.html"

    def _form(self, data=None) -> CMPSettingsForm:
        cfg = cmp_services.config()
        initial = {
            "enabled": cfg.enabled,
            "default_ca": cfg.default_ca_id,
            "confirm_wait": cfg.confirm_wait,
            "revoke_superseded": cfg.revoke_superseded,
            "revoke_reenrolled": cfg.revoke_reenrolled,
            "poll_interval": cfg.poll_interval,
            "strict_header_checks": cfg.strict_header_checks,
            "rfc9481_only": cfg.rfc9481_only,
            "debug": cfg.debug,
        }
        form = CMPSettingsForm(data, initial=initial, current_ca_id=cfg.default_ca_id)
        if not can_manage(self.request.user):
            for field in form.fields.values():
                field.disabled = True
        return form

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request, self.template_name, {"form": self._form(), "config": cmp_services.config()}
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if not can_manage(request.user):
            raise PermissionDenied("Read-only administrators cannot change the CMP settings.")
        form = self._form(request.POST)
        if form.is_valid():
            try:
                _cfg, changes = cmp_services.update_settings(
                    actor=actor(request), **form.cleaned_data
                )
            except InvalidInput as exc:
                form.add_error(None, str(exc))
            else:
                if changes:
                    messages.success(request, "CMP settings saved.")
                else:
                    messages.info(request, "No changes.")
                return redirect("cmp_general")
        return render(request, self.template_name, {"form": form, "config": cmp_services.config()})


# --- CMP > Pending Requests ---------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=512,
        help_text="Sent to the client in the rejection.",
    )


class PendingRequestsView(StaffRequiredMixin, View):
    """Requests of manual-method enrollments waiting for an administrator (RFC 9483, 4.4)."""

    template_name = "cmp/requests.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        waiting = list(engine.waiting_requests().defer("public_key").order_by("-created", "-pk"))
        decided = list(
            CertificateRequest.objects.exclude(state=CertificateRequest.State.WAITING)
            .select_related("enrollment", "certificate")
            .defer("public_key")
            .order_by("-decided_at", "-pk")[:DECIDED_SHOWN]
        )
        return render(
            request,
            self.template_name,
            {
                "title": "Pending Requests",
                "waiting": waiting,
                "decided": decided,
                "decided_shown": DECIDED_SHOWN,
                "config": cmp_services.config(),
            },
        )


class RequestDecisionView(ManageRequiredMixin, View):
    """Approve or reject one waiting request (POST only)."""

    http_method_names = ["post"]
    decision: str = ""  # "approve" or "reject"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        who = actor(request)
        if self.decision == "approve":
            try:
                held = engine.approve_request(pk, actor=who)
            except ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    f"{held.protocol_label} request {held.pk} was approved: certificate "
                    f"{held.certificate.serial_colons} is handed out at the client's next poll.",
                )
            return redirect("cmp_requests")
        form = RejectForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Request {pk}: the reason is longer than 512 characters.")
            return redirect("cmp_requests")
        try:
            held = engine.reject_request(pk, reason=form.cleaned_data["reason"], actor=who)
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, f"{held.protocol_label} request {held.pk} was rejected: {held.reason}"
            )
        return redirect("cmp_requests")


# --- Debug > Others > SCEP/CMP ----------------------------------------------------------


class DebugView(StaffRequiredMixin, View):
    """CMP and SCEP exchanges (one debug mode records both), filtered and paged per
    transaction (cmp.gui.traces); the bodies stay in the database."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = traces.TraceFilterForm(request.GET)
        form.is_valid()  # fills cleaned_data with the valid fields
        sections = [
            section(form, request.GET)
            for protocol, section in (("cmp", traces.cmp_section), ("scep", traces.scep_section))
            if form.shows(protocol)
        ]
        return render(
            request,
            "debug/cmp.html",
            {
                "config": cmp_services.config(),
                "form": form,
                "filtered": any(value for key, value in request.GET.items() if "page" not in key),
                "sections": sections,
                # Each protocol's transactions on this page, by name.
                **{
                    ("groups" if section.protocol == "cmp" else "scep_groups"): section.groups
                    for section in sections
                },
                "trace_count": CMPTrace.objects.count(),
                "scep_count": SCEPTrace.objects.count(),
                "per_page": traces.PER_PAGE,
            },
        )


class DebugToggleView(ManageRequiredMixin, View):
    """Enter or exit debug mode (POST ``debug=on|off``)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        value = request.POST.get("debug")
        if value not in ("on", "off"):
            messages.error(request, "Choose to enter or exit debug mode.")
            return redirect("cmp_debug")
        who = actor(request)
        cmp_services.set_debug(value == "on", actor=who)
        if value == "on":
            messages.success(request, "CMP debug mode is on: CMP and SCEP exchanges are recorded.")
        else:
            messages.success(request, "CMP debug mode is off.")
        return redirect("cmp_debug")


class TraceDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        trace = get_object_or_404(CMPTrace, pk=pk)
        request_der = bytes(trace.request_der or b"")
        response_der = bytes(trace.response_der or b"")
        if trace.transaction_id:
            exchange = list(
                traces.cmp_rows()
                .filter(transaction_id=trace.transaction_id)
                .order_by("id")[: traces.MAX_ROWS]
            )
        else:
            exchange = [trace]
        steps = sequence.cmp_messages(exchange)
        return render(
            request,
            "debug/trace.html",
            {
                "trace": trace,
                "request_size": len(request_der),
                "response_size": len(response_der),
                "request_tree": asn1tree.decode(request_der),
                "response_tree": asn1tree.decode(response_der),
                "related": [other for other in exchange if other.pk != trace.pk],
                "diagram": sequence.svg(steps),
                "failure": sequence.first_failure(steps),
                "nav_active": reverse("cmp_debug"),
            },
        )


class TraceDERView(StaffRequiredMixin, View):
    part: str = "request"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        trace = get_object_or_404(CMPTrace, pk=pk)
        data = bytes(getattr(trace, f"{self.part}_der") or b"")
        if not data:
            return HttpResponse(
                f"This exchange has no {self.part}.", status=404, content_type="text/plain"
            )
        response = HttpResponse(data, content_type=CMP_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="cmp-{trace.pk}-{self.part}.der"'
        return response


def _exchanges() -> Iterator[pcap.Exchange]:
    """CMP and SCEP exchanges, in the order they happened, read a chunk at a time: the
    dump streams with bounded memory whatever the traces hold."""
    return heapq.merge(_cmp_exchanges(), scep_debug.exchanges(), key=lambda exchange: exchange.when)


def _cmp_exchanges() -> Iterator[pcap.Exchange]:
    for trace in CMPTrace.objects.order_by("created", "id").iterator(chunk_size=50):
        yield pcap.Exchange(
            when=trace.created,
            client_ip=trace.source_ip,
            request=bytes(trace.request_der or b""),
            response=bytes(trace.response_der or b""),
            http_status=trace.http_status,
            client_port=40000 + trace.pk % 20000,
        )


class PcapDumpView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        stamp = timezone.localtime()
        response = StreamingHttpResponse(
            pcap.pcap_stream(_exchanges()), content_type="application/vnd.tcpdump.pcap"
        )
        response["Content-Disposition"] = f'attachment; filename="cmp-{stamp:%Y%m%d-%H%M%S}.pcap"'
        return response
