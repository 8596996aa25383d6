"""The guessing throttle: failed authentications per key, and lockouts that grow.

A key names what is guessed at: an enrollment ID (``cmp-ref:fgt100f``), an
administrator (``gui-user:admin``) or a source address (``cmp-ip:192.0.2.7``).
After :data:`MAX_FAILURES` failures of one key within :data:`WINDOW`, the key
is locked for :data:`FIRST_LOCKOUT`, twice as long at each lockout in a row,
up to :data:`LONGEST_LOCKOUT`. While a key is locked every attempt is refused
without being checked, the right password too, so guessing costs the server
nothing and gains the guesser nothing. Known and unknown enrollment IDs are
throttled alike, so a lockout says nothing about which ones exist.

State lives in the database (:class:`certauth.models.Throttle`): every worker
and every host sees the same counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from certauth import events
from certauth.events import SYSTEM, Actor
from certauth.models import Throttle
from certauth.prepared import Prepared

#: Failures of one key within WINDOW before it is locked (FAC_THROTTLE_FAILURES).
MAX_FAILURES = settings.FAC_THROTTLE_FAILURES
WINDOW = dt.timedelta(minutes=15)
FIRST_LOCKOUT = dt.timedelta(seconds=60)
LONGEST_LOCKOUT = dt.timedelta(hours=1)
#: After this long without a failure the lockouts in a row start from the first again.
FORGET_AFTER = dt.timedelta(hours=24)


def describe(key: str) -> str:
    """A key as the event log names it: "enrollment 'fgt100f'", "address 192.0.2.7"."""
    kind, _, value = key.partition(":")
    if kind.endswith("-ip"):
        return f"source address {value}"
    if kind == "gui-user":
        return f"administrator '{value}'"
    return f"enrollment '{value}'"


_STATUS = {
    count: Prepared(
        lambda *keys: status_query(keys),
        *[str] * count,
    )
    for count in (1, 2)
}


def status(
    keys: Sequence[str], *, now: dt.datetime | None = None
) -> tuple[int | None, frozenset[str]]:
    """(seconds until every locked key among *keys* is free, or None; the keys with failures).

    One query: a request checks its keys before any password work, and knows
    afterwards whether a success has failures to forget.
    """
    prepared = _STATUS.get(len(keys))  # the usual one or two keys: compiled once
    rows = (
        prepared(*keys)
        if prepared is not None
        else list(Throttle.objects.filter(key__in=list(keys)).values_list("key", "locked_until"))
    )
    return status_of(rows, now=now)


def status_query(keys: Sequence[str]) -> QuerySet:
    """The query of :func:`status`: (key, locked_until) of the rows of *keys*.

    A caller may run it together with a query of its own (a UNION) and give
    the rows to :func:`status_of`.
    """
    return Throttle.objects.filter(key__in=list(keys)).order_by().values_list("key", "locked_until")


def status_of(
    rows: Sequence[tuple[str, dt.datetime | None]], *, now: dt.datetime | None = None
) -> tuple[int | None, frozenset[str]]:
    """:func:`status` from the rows of :func:`status_query`."""
    now = now or timezone.now()
    until = max(
        (locked for _key, locked in rows if locked is not None and locked > now), default=None
    )
    wait = None if until is None else max(1, int((until - now).total_seconds() + 0.999))
    return wait, frozenset(key for key, _locked in rows)


def retry_after(keys: Sequence[str], *, now: dt.datetime | None = None) -> int | None:
    """Seconds until every locked key among *keys* is free again, or None when none is locked."""
    return status(keys, now=now)[0]


def _lockout(lockouts: int) -> dt.timedelta:
    return min(FIRST_LOCKOUT * 2 ** max(lockouts - 1, 0), LONGEST_LOCKOUT)


def record_failure(
    keys: Sequence[str], *, actor: Actor = SYSTEM, now: dt.datetime | None = None
) -> int | None:
    """Count a failed attempt against each key; returns the seconds of a lockout it caused."""
    now = now or timezone.now()
    locked: int | None = None
    for key in dict.fromkeys(keys):
        # Within a caller's transaction, no savepoint: the caller commits once.
        with transaction.atomic(savepoint=False):
            row = Throttle.objects.select_for_update().filter(key=key).first()
            if row is None:
                try:
                    with transaction.atomic():
                        row = Throttle.objects.create(key=key, window_start=now)
                except IntegrityError:  # another worker created it meanwhile
                    row = Throttle.objects.select_for_update().get(key=key)
            if row.locked_until is not None and row.locked_until > now:
                continue  # already locked: attempts are refused unchecked
            if now - row.window_start > WINDOW:
                row.failures, row.window_start = 0, now
            if now - row.updated > FORGET_AFTER:
                row.lockouts = 0
            row.failures += 1
            if row.failures >= MAX_FAILURES:
                row.lockouts += 1
                duration = _lockout(row.lockouts)
                row.locked_until = now + duration
                row.failures, row.window_start = 0, now
                seconds = int(duration.total_seconds())
                locked = max(locked or 0, seconds)
                events.log(events.LOCKED_OUT, actor, subject=describe(key), seconds=seconds)
            row.save()
    return locked


def record_success(keys: Sequence[str]) -> None:
    """A successful authentication of *keys* forgets their failures (not a running lockout)."""
    Throttle.objects.filter(key__in=list(keys)).exclude(locked_until__gt=timezone.now()).delete()


def clear(key: str | None = None, *, actor: Actor = SYSTEM) -> int:
    """An administrator lifts one lockout (or all with *key* None); returns how many."""
    rows = Throttle.objects.all() if key is None else Throttle.objects.filter(key=key)
    cleared = 0
    for row in rows:
        if row.locked_until is not None and row.locked_until > timezone.now():
            events.log(events.LOCKOUT_CLEARED, actor, subject=describe(row.key))
            cleared += 1
    rows.delete()
    return cleared


def locked(*, now: dt.datetime | None = None):
    """The keys locked now, newest first."""
    return Throttle.objects.filter(locked_until__gt=now or timezone.now()).order_by("-locked_until")
