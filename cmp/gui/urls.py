"""GUI pages of the CMP server: CMP > General, CMP > Pending Requests, Debug > Others > SCEP/CMP,
the pcap dump."""

from django.urls import path

from cmp.gui import views

urlpatterns = [
    path("cmp/general/", views.CMPGeneralView.as_view(), name="cmp_general"),
    path("cmp/requests/", views.PendingRequestsView.as_view(), name="cmp_requests"),
    path(
        "cmp/requests/<int:pk>/approve/",
        views.RequestDecisionView.as_view(decision="approve"),
        name="cmp_request_approve",
    ),
    path(
        "cmp/requests/<int:pk>/reject/",
        views.RequestDecisionView.as_view(decision="reject"),
        name="cmp_request_reject",
    ),
    path("debug/cmp/", views.DebugView.as_view(), name="cmp_debug"),
    path("debug/cmp/mode/", views.DebugToggleView.as_view(), name="cmp_debug_toggle"),
    path("debug/cmp/<int:pk>/", views.TraceDetailView.as_view(), name="cmp_trace"),
    path(
        "debug/cmp/<int:pk>/request.der",
        views.TraceDERView.as_view(part="request"),
        name="cmp_trace_request",
    ),
    path(
        "debug/cmp/<int:pk>/response.der",
        views.TraceDERView.as_view(part="response"),
        name="cmp_trace_response",
    ),
    path("debug/pcap-dump", views.PcapDumpView.as_view(), name="cmp_pcap"),
]
