"""certauth.gui.listing: filter, search, sort, capped count, pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory
from django.utils import timezone

from certauth.gui.listing import Column, Listing
from certauth.models import LogEntry

pytestmark = pytest.mark.django_db

COLUMNS = [Column("time", "Time", ["timestamp"]), Column("message", "Message", ["message"])]


@pytest.fixture
def entries():
    now = timezone.now()
    LogEntry.objects.bulk_create(
        LogEntry(
            timestamp=now - dt.timedelta(seconds=n),
            message=f"entry {n:03}",
            subcategory="x",
            level="error" if n % 2 else "information",
        )
        for n in range(25)
    )


def listing(query: str = "", **kwargs) -> Listing:
    request = RequestFactory().get(f"/logs/?{query}")
    options = {"columns": COLUMNS, "default_sort": "-time", "per_page": 10}
    options.update(kwargs)
    return Listing(request, LogEntry.objects.all(), **options)


def test_pages_and_exact_count(entries):
    first = listing()
    assert [e.message for e in first.page] == [f"entry {n:03}" for n in range(10)]
    assert first.page.has_next and not first.page.has_previous
    assert first.page.num_pages == 3 and first.page.count_text == "1–10 of 25"
    last = listing("page=3")
    assert len(last.page) == 5 and not last.page.has_next
    assert last.page.previous_query == "page=2"
    # Past the end: the last page, not an empty one.
    assert listing("page=99").page.number == 3
    assert listing("page=abc").page.number == 1


def test_count_is_capped(entries):
    page = listing(count_limit=12).page
    assert page.num_pages is None and page.last_query is None
    assert page.count_text == "1–10 of more than 12"
    assert page.has_next


def test_sort_links_toggle_and_fall_back(entries):
    ascending = listing("sort=message")
    assert ascending.columns["message"].direction == "asc"
    assert ascending.columns["message"].query == "sort=-message"
    assert ascending.columns["time"].direction == ""
    assert listing("sort=-message").page.object_list[0].message == "entry 024"
    assert listing("sort=nonsense").sort == "-time"
    # The module-level columns are not modified by a request.
    assert COLUMNS[1].direction == "" and COLUMNS[1].query == ""


def test_filter_and_search(entries):
    def only_errors(queryset, status):
        return queryset.filter(level="error") if status == "active" else queryset

    filtered = listing(
        "status=active&q=entry 01",
        status_filter=only_errors,
        search=lambda qs, text: qs.filter(message__icontains=text),
    )
    assert {e.message for e in filtered.page} == {
        "entry 011",
        "entry 013",
        "entry 015",
        "entry 017",
        "entry 019",
    }
    assert filtered.status == "active" and filtered.query == "entry 01"
    assert listing("status=bogus", status_filter=only_errors).status == ""
