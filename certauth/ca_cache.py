"""The local CAs, kept per process and read again when the CA table changes.

A protocol request that answers before its enrollment is known (an error to an
unknown or malformed request, a lockout) names a CA as its sender and signs
with it: the configured default CA, else the oldest usable local CA. Reading
the CAs for each such request costs a query or two; here they are read once per
*version* of the CA table, ``(number of CAs, latest "updated")``, which a
protocol reads in a statement it makes anyway (:func:`version_columns`).
Every change of a CA is a save (``updated`` is set), a new or deleted CA
changes the count: any worker or host sees it at its next request. The cache is
safe to lose. The CRLs are not kept (they grow with every revocation).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from cryptography import x509
from django.db.models import CharField, DateTimeField, F, Func, IntegerField, Subquery, Value
from django.db.models.functions import Cast, Concat

from certauth.models import CertificateAuthority

#: The first character of the version row's key, which no other key of the
#: statement it joins starts with (throttle keys and the settings row's "").
VERSION_PREFIX = "\x02cas:"


def version_columns() -> tuple[Concat, Subquery[Any]]:
    """The version as two expressions, ``VERSION_PREFIX + number of CAs`` and the
    latest ``updated``, to annotate on a one-row query of the caller's (run with
    its other rows as a UNION of (text, timestamp) rows: no statement of its own).

    Scalar subqueries: the aggregates then need no GROUP BY of the caller's row.
    """
    cas = CertificateAuthority.objects.order_by()
    count = Subquery(cas.values(n=Func(F("pk"), function="COUNT")), output_field=IntegerField())
    latest = Subquery(
        cas.values(latest=Func(F("updated"), function="MAX")), output_field=DateTimeField()
    )
    key = Concat(
        Value(VERSION_PREFIX), Cast(count, output_field=CharField()), output_field=CharField()
    )
    return key, latest


class LocalCAs:
    """The local CAs of one version of the CA table, oldest first."""

    def __init__(self, cas: list[CertificateAuthority]) -> None:
        self._cas = cas
        self._by_pk = {ca.pk: ca for ca in cas}

    def get(self, pk: int | None) -> CertificateAuthority | None:
        return self._by_pk.get(pk) if pk is not None else None

    def usable(self, now: dt.datetime) -> list[CertificateAuthority]:
        """As ``CertificateAuthority.objects.usable(now)``, oldest first."""
        return [ca for ca in self._cas if ca.is_usable(now)]

    def oldest_usable(self, now: dt.datetime) -> CertificateAuthority | None:
        return next(iter(self.usable(now)), None)

    def usable_named(self, subject: x509.Name, now: dt.datetime) -> CertificateAuthority | None:
        """The usable CA whose certificate's subject is *subject*."""
        return next((ca for ca in self.usable(now) if ca.certificate.subject == subject), None)


_lock = threading.Lock()
_cached: tuple[tuple[str, object], LocalCAs] | None = None


def local_cas(key: str, updated: object) -> LocalCAs:
    """The local CAs for the version ``(key, updated)`` of :func:`version_columns`."""
    global _cached  # noqa: PLW0603 - one per process, replaced whole
    version = (key, updated)
    cached = _cached
    if cached is not None and cached[0] == version:
        return cached[1]
    # Read after the version: a change in between is seen as a newer version next time.
    loaded = LocalCAs(
        list(CertificateAuthority.objects.local().defer("crl_der").order_by("created", "pk"))
    )
    with _lock:
        _cached = (version, loaded)
    return loaded
