"""The lists' "expiring within N days" filter (``?expires=N``), as the dashboard links to it.

It keeps what expires after now and no later than N days from now; the list's
status filter applies as well (the dashboard asks for Active certificates, and
for CAs the default, not revoked), so a list shows what the expiry alerts count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

MAX_DAYS = 3650
PARAM = "expires"

QuerySetT = TypeVar("QuerySetT", bound=QuerySet[Any, Any])


def requested_days(request: HttpRequest) -> int | None:
    """N of ``?expires=N`` when it is a whole number of days from 1 to MAX_DAYS, else None."""
    value = request.GET.get(PARAM, "").strip()
    if not value.isdigit():
        return None
    days = int(value)
    return days if 1 <= days <= MAX_DAYS else None


def expiring(queryset: QuerySetT, days: int | None, now: dt.datetime | None = None) -> QuerySetT:
    if days is None:
        return queryset
    now = now or timezone.now()
    return queryset.filter(not_after__gt=now, not_after__lte=now + dt.timedelta(days=days))
