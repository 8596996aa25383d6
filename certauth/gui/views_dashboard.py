"""The dashboard: CAs and their expiry, issuance over 30 days, pending work, recent errors.

Each count links to the page that lists what it counts, filtered the same way:
requests waiting for approval (Pending Requests, CMP and SCEP), certificates
awaiting confirmation and certificates expiring soon (the certificate lists,
per list), CMP and SCEP failures of the last 24 hours (Logs, by log type), CAs
expiring soon (Local CAs, Trusted CAs). The expiry definitions are those of the
expiry alerts (certauth.alerts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from certauth import alerts, events
from certauth import enrollment as engine
from certauth.gui import views_certs
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


EXPIRY_WINDOWS = (30, 90)
FAILURE_PERIOD = "24h"
FAILURE_HOURS = 24
TIMELINE_WEEKS = 26
TIMELINE_WIDTH = 600
TIMELINE_HEIGHT = 150


@dataclass(frozen=True)
class Stat:
    """A count and the page that lists exactly what it counts."""

    label: str
    count: int
    url: str
    key: str  # names the element for tests and styles


def _certificate_list(section: str, **query: object) -> str:
    name = "cert_users" if section == views_certs.USERS else "cert_services"
    return f"{reverse(name)}?{urlencode(query)}"


def _sections_stat(
    key: str, label: str, queryset, query: dict[str, object], always: bool = True
) -> list[Stat]:
    """One Stat per certificate list (Local Services, Users), each counted as it lists."""
    stats = []
    for section, title in ((views_certs.SERVICES, "Local service"), (views_certs.USERS, "User")):
        count = queryset.filter(kind__in=views_certs.KINDS[section]).count()
        if count or always or section == views_certs.SERVICES:
            stats.append(
                Stat(
                    label.format(kind=title),
                    count,
                    _certificate_list(section, **query),
                    f"{key}-{section}",
                )
            )
    return stats


def attention(now: dt.datetime) -> dict[str, list[Stat]]:
    """The dashboard's counts, each with the link to its rows."""
    waiting = engine.waiting_requests()
    by_protocol = dict(
        waiting.order_by()
        .values_list("protocol")
        .annotate(n=Count("id"))
        .values_list("protocol", "n")
    )
    requests_url = reverse("cmp_requests")
    pending = Certificate.objects.with_status(Certificate.Status.PENDING, now)
    since = now - dt.timedelta(hours=FAILURE_HOURS)
    logs_url = reverse("log_list")
    failures = [
        Stat(
            f"{protocol} failures in the last 24 hours",
            LogEntry.objects.filter(log_type_id=log_type.id, timestamp__gte=since).count(),
            f"{logs_url}?{urlencode({'period': FAILURE_PERIOD, 'log_type': log_type.id})}",
            f"failures-{protocol.lower()}",
        )
        for protocol, log_type in (
            ("CMP", events.CMP_REQUEST_FAILED),
            ("SCEP", events.SCEP_REQUEST_FAILED),
        )
    ]
    expiry: list[Stat] = []
    for days in EXPIRY_WINDOWS:
        cas = alerts.expiring_cas(days, now)
        for kind, list_name in (
            (CertificateAuthority.Kind.LOCAL, "ca_local"),
            (CertificateAuthority.Kind.TRUSTED, "ca_trusted"),
        ):
            count = cas.filter(kind=kind).count()
            if count or kind == CertificateAuthority.Kind.LOCAL:
                expiry.append(
                    Stat(
                        f"{CertificateAuthority.Kind(kind).label}s expiring within {days} days",
                        count,
                        f"{reverse(list_name)}?{urlencode({'expires': days})}",
                        f"expiring-ca-{kind}-{days}",
                    )
                )
        expiry += _sections_stat(
            f"expiring-{days}",
            f"{{kind}} certificates expiring within {days} days",
            alerts.expiring_certificates(days, now),
            {"status": Certificate.Status.ACTIVE, "expires": days},
            always=False,
        )
    return {
        "requests": [
            Stat(
                "Requests waiting for approval",
                sum(by_protocol.values()),
                requests_url,
                "waiting-requests",
            )
        ],
        "enrollments": [
            Stat(
                "Enrollment requests pending approval",
                Enrollment.objects.filter(status=Enrollment.Status.PENDING).count(),
                f"{reverse('enrollment_list')}?{urlencode({'status': Enrollment.Status.PENDING})}",
                "pending-enrollments",
            )
        ],
        "requests_by_protocol": [
            Stat(label, by_protocol.get(value, 0), requests_url, f"waiting-{value}")
            for value, label in Enrollment.Protocol.choices
        ],
        "confirmation": _sections_stat(
            "awaiting-confirmation",
            "{kind} certificates awaiting confirmation",
            pending,
            {"status": Certificate.Status.PENDING},
            always=False,
        ),
        "failures": failures,
        "expiry": expiry,
    }


def expiry_timeline(now: dt.datetime, weeks: int = TIMELINE_WEEKS) -> dict:
    """Bars for an inline SVG: certificates in force expiring in each of the next *weeks* weeks.

    Week *i* runs from now + 7i days (included) to now + 7(i + 1) days; one query counts them all.
    """
    starts = [now + dt.timedelta(weeks=index) for index in range(weeks + 1)]
    counts = Certificate.objects.current(now).aggregate(
        **{
            f"w{index}": Count(
                "id", filter=Q(not_after__gt=starts[index], not_after__lte=starts[index + 1])
            )
            for index in range(weeks)
        }
    )
    values = [counts[f"w{index}"] or 0 for index in range(weeks)]
    peak = max(values, default=0)
    slot = TIMELINE_WIDTH / weeks
    usable = TIMELINE_HEIGHT - CHART_TOP - CHART_BOTTOM
    bars = []
    for index, count in enumerate(values):
        height = round(usable * count / peak, 1) if peak else 0
        first = timezone.localdate(starts[index])
        last = timezone.localdate(starts[index + 1])
        bars.append(
            {
                "index": index + 1,
                "first": first,
                "last": last,
                "count": count,
                "x": round(index * slot + 2, 1),
                "width": round(slot - 4, 1),
                "y": round(TIMELINE_HEIGHT - CHART_BOTTOM - height, 1),
                "height": height,
                "text_y": round(TIMELINE_HEIGHT - CHART_BOTTOM - height - 3, 1),
                "label_x": round(index * slot + slot / 2, 1),
                "label": index % 4 == 0,
                "date_x": 0 if index == 0 else round(index * slot + slot / 2, 1),
                "date_anchor": "start" if index == 0 else "middle",
            }
        )
    return {
        "bars": bars,
        "weeks": weeks,
        "total": sum(values),
        "peak": peak,
        "busiest": max(bars, key=lambda bar: bar["count"]) if peak else None,
        "width": TIMELINE_WIDTH,
        "height": TIMELINE_HEIGHT,
        "baseline": TIMELINE_HEIGHT - CHART_BOTTOM,
        "label_y": TIMELINE_HEIGHT - 5,
        "first": timezone.localdate(starts[0]),
        "last": timezone.localdate(starts[-1]),
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
            attention=attention(now),
            timeline=expiry_timeline(now),
            pending_enrollments=Enrollment.objects.filter(status=Enrollment.Status.PENDING)
            .select_related("ca")
            .order_by("-created", "-pk")[:10],
            waiting_requests=engine.waiting_requests()
            .defer("public_key")
            .order_by("-created", "-pk")[:10],
            pending_certificates=Certificate.objects.with_status(Certificate.Status.PENDING, now)
            .select_related("ca")
            .order_by("-created")[:10],
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
