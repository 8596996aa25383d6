"""The dashboard: CAs and their expiry, issuance over 30 days, pending work, recent errors."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.views.generic import TemplateView

from certauth.gui.access import StaffRequiredMixin
from certauth.models import Certificate, CertificateAuthority, Enrollment, LogEntry

CHART_DAYS = 30
CHART_WIDTH = 600
CHART_HEIGHT = 150
CHART_TOP = 14  # room for the count above the highest bar
CHART_BOTTOM = 18  # room for the date labels


def issuance_chart(now: dt.datetime, days: int = CHART_DAYS) -> dict:
    """Bars for an inline SVG: certificates issued per day over the last *days* days."""
    today = timezone.localdate(now)
    first = today - dt.timedelta(days=days - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    counts = dict(
        Certificate.objects.filter(created__gte=start)
        .annotate(day=TruncDate("created"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    peak = max(counts.values(), default=0)
    slot = CHART_WIDTH / days
    usable = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    bars = []
    for index in range(days):
        day = first + dt.timedelta(days=index)
        count = counts.get(day, 0)
        height = round(usable * count / peak, 1) if peak else 0
        bars.append(
            {
                "day": day,
                "count": count,
                "x": round(index * slot + 2, 1),
                "width": round(slot - 4, 1),
                "y": round(CHART_HEIGHT - CHART_BOTTOM - height, 1),
                "height": height,
                "text_y": round(CHART_HEIGHT - CHART_BOTTOM - height - 3, 1),
                "label_x": round(index * slot + slot / 2, 1),
                "label": index % 5 == 0 or index == days - 1,
                # The first and last dates hug the edges instead of being cut off.
                "date_x": 0
                if index == 0
                else CHART_WIDTH
                if index == days - 1
                else round(index * slot + slot / 2, 1),
                "date_anchor": "start" if index == 0 else "end" if index == days - 1 else "middle",
            }
        )
    return {
        "bars": bars,
        "total": sum(counts.values()),
        "peak": peak,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": CHART_HEIGHT - CHART_BOTTOM,
        "label_y": CHART_HEIGHT - 5,
    }


class DashboardView(StaffRequiredMixin, TemplateView):
    template_name = "dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        cas = list(CertificateAuthority.objects.order_by("kind", "not_after"))
        for ca in cas:
            # A value for templates/dashboard.html; the model does not declare it.
            ca.days_left = (ca.not_after - now).days  # type: ignore[attr-defined]
        context.update(
            title="Dashboard",
            cas=cas,
            soon=now + dt.timedelta(days=30),
            chart=issuance_chart(now),
            pending_enrollments=Enrollment.objects.filter(status=Enrollment.Status.PENDING)
            .select_related("ca")
            .order_by("-created")[:10],
            pending_enrollment_count=Enrollment.objects.filter(
                status=Enrollment.Status.PENDING
            ).count(),
            pending_certificates=Certificate.objects.with_status(Certificate.Status.PENDING, now)
            .select_related("ca")
            .order_by("-created")[:10],
            pending_certificate_count=Certificate.objects.with_status(
                Certificate.Status.PENDING, now
            ).count(),
            active_certificate_count=Certificate.objects.with_status(
                Certificate.Status.ACTIVE, now
            ).count(),
            recent_problems=LogEntry.objects.filter(
                level__in=[
                    LogEntry.Level.EMERGENCY,
                    LogEntry.Level.ALERT,
                    LogEntry.Level.CRITICAL,
                    LogEntry.Level.ERROR,
                    LogEntry.Level.WARNING,
                ]
            ).order_by("-timestamp", "-id")[:10],
        )
        return context
