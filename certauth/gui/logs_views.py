"""Logging > Logs: the event log, filtered per field, paginated, and as a raw download.

The list is ordered by ``-timestamp, -id`` (the model's ordering, served by
the timestamp index) and filtered to the last 24 hours by default, so the
first page stays fast on a log of a hundred thousand entries. The entries of a
page are linked to what they concern in a few queries (certauth.gui.log_links).
"""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from certauth.events import raw_line
from certauth.gui import log_links
from certauth.gui.access import StaffRequiredMixin
from certauth.gui.listing import Column, Listing
from certauth.models import LogEntry

PAGE_SIZE = 50

PERIODS: dict[str, tuple[str, dt.timedelta | None]] = {
    "1h": ("Last hour", dt.timedelta(hours=1)),
    "8h": ("Last 8 hours", dt.timedelta(hours=8)),
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last month", dt.timedelta(days=30)),
    "90d": ("Last 3 months", dt.timedelta(days=90)),
    "365d": ("Last year", dt.timedelta(days=365)),
    "all": ("All", None),
}
DEFAULT_PERIOD = "24h"


class LogFilterForm(forms.Form):
    """The Logs page's filters (GET); every field is optional."""

    period = forms.ChoiceField(
        label="Time period",
        required=False,
        choices=[(key, label) for key, (label, _) in PERIODS.items()],
        initial=DEFAULT_PERIOD,
    )
    level = forms.ChoiceField(
        label="Level", required=False, choices=[("", "All levels"), *LogEntry.Level.choices]
    )
    message = forms.CharField(label="Message", required=False, max_length=200)
    user = forms.CharField(label="User", required=False, max_length=150)
    source_ip = forms.CharField(label="Source IP", required=False, max_length=45)
    log_type = forms.IntegerField(label="Log type ID", required=False, min_value=0)
    category = forms.CharField(label="Category", required=False, max_length=32)
    subcategory = forms.CharField(label="Sub category", required=False, max_length=64)

    TEXT_FILTERS = {
        "message": "message__icontains",
        "user": "user__icontains",
        "source_ip": "source_ip__icontains",
        "category": "category__icontains",
        "subcategory": "subcategory__icontains",
    }

    def filter(
        self, queryset: QuerySet[LogEntry], now: dt.datetime | None = None
    ) -> QuerySet[LogEntry]:
        """Apply the valid filters; an invalid field is ignored (and shown as an error)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        period = data.get("period") or DEFAULT_PERIOD
        delta = PERIODS[period][1]
        if delta is not None:
            queryset = queryset.filter(timestamp__gte=(now or timezone.now()) - delta)
        if data.get("level"):
            queryset = queryset.filter(level=data["level"])
        if data.get("log_type") is not None:
            queryset = queryset.filter(log_type_id=data["log_type"])
        for field, lookup in self.TEXT_FILTERS.items():
            value = (data.get(field) or "").strip()
            if value:
                queryset = queryset.filter(**{lookup: value})
        return queryset


def filtered_entries(request: HttpRequest) -> tuple[LogFilterForm, QuerySet[LogEntry]]:
    data = request.GET.copy()
    if not data.get("period"):
        data["period"] = DEFAULT_PERIOD  # so the select shows the period in force
    form = LogFilterForm(data)
    form.is_valid()  # fills cleaned_data with the valid fields
    return form, form.filter(LogEntry.objects.order_by("-timestamp", "-id"))


LOG_COLUMNS = [Column("timestamp", "Timestamp", ["timestamp"])]


class LogListView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form, entries = filtered_entries(request)
        listing = Listing(
            request,
            entries,
            columns=[copy.copy(column) for column in LOG_COLUMNS],
            default_sort="-timestamp",  # then -pk: the newest first, a total order
            per_page=PAGE_SIZE,
        )
        period = form.cleaned_data.get("period") or DEFAULT_PERIOD
        log_links.resolve(listing.page.object_list)  # a few queries for the page, not per row
        return render(
            request,
            "logs/list.html",
            {
                "title": "Logs",
                "form": form,
                "listing": listing,
                "entries": listing.page.object_list,
                "download_query": request.GET.urlencode(),
                "detail_query": request.GET.urlencode(),
                "period_label": PERIODS[period][0],
            },
        )


class LogDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(LogEntry, pk=pk)
        log_links.resolve([entry])
        return render(
            request,
            "logs/detail.html",
            {
                "title": f"Log entry {entry.pk}",
                "entry": entry,
                "raw": raw_line(entry),
                "params": sorted((entry.params or {}).items()),
                "back_query": request.GET.urlencode(),
                "nav_active": reverse("log_list"),
            },
        )


# --- Raw download ----------------------------------------------------------------------


def raw_lines(entries: QuerySet[LogEntry]) -> Iterator[str]:
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    for entry in entries.iterator(chunk_size=2000):
        yield raw_line(entry, tz) + "\n"


class LogDownloadView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        _form, entries = filtered_entries(request)
        stamp = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(settings.TIME_ZONE))
        response = StreamingHttpResponse(
            raw_lines(entries), content_type="text/plain; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="fac-log-{stamp:%Y%m%d-%H%M%S}.log"'
        )
        return response
