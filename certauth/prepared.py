"""Queries of the protocol hot paths, compiled by the ORM once per process.

Django compiles a QuerySet into SQL on every evaluation; for the few queries
every CMP or SCEP request makes (find the enrollment, lock it, find the
transaction) the compilation costs more than running them. A
:class:`Prepared` query is built once per thread with marker values in place
of its parameters, compiled by the ORM for the database in use (so the SQL is
the one Django writes, ``FOR UPDATE`` and all), and then run with the real
values through the connection's cursor (counted by query captures and the
debug log like any other). Rows become model instances as
``QuerySet.__iter__`` makes them, ``select_related`` objects included.

Only parameters given as markers vary; everything else in the QuerySet is
fixed when it is built. Markers are ``int``, ``str`` or ``datetime`` values.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, get_related_populators

_MARKER_TIME = dt.datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)


def _marker(kind: type, index: int) -> object:
    if kind is int:
        return -(10**15) - 7919 * index
    if kind is str:
        return f"\x01prepared marker {index}\x01"
    if kind is dt.datetime:
        return _MARKER_TIME + dt.timedelta(seconds=index)
    raise TypeError(f"no marker for {kind.__name__}")


class _Compiled:
    def __init__(self, queryset: QuerySet, markers: Sequence[object]) -> None:
        self.alias = queryset.db
        connection = connections[self.alias]
        compiler = queryset.query.get_compiler(using=self.alias)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = list(params)
        self.positions = []
        for marker in markers:
            adapted = self._adapt(connection, marker)
            found = [i for i, value in enumerate(self.params) if value == adapted]
            if len(found) != 1:
                raise ValueError(f"marker {marker!r} found {len(found)} times in the parameters")
            self.positions.append(found[0])
        self.models = queryset._iterable_class is ModelIterable
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        self.converters = compiler.get_converters(fields)
        self.compiler = compiler
        if self.models:
            klass_info = compiler.klass_info
            select = compiler.select
            self.model = klass_info["model"]
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            self.span = (start, end)
            self.init_list = [f[0].target.attname for f in select[start:end]]
            # django-stubs describe a later signature (with fetch_mode)
            self.populators = get_related_populators(klass_info, select, self.alias)  # type: ignore[call-arg]

    @staticmethod
    def _adapt(connection, value: object) -> object:
        if isinstance(value, dt.datetime):
            return connection.ops.adapt_datetimefield_value(value)
        return value

    def run(self, values: Sequence[object]) -> list[Any]:
        connection = connections[self.alias]
        params = list(self.params)
        for position, value in zip(self.positions, values, strict=True):
            params[position] = self._adapt(connection, value)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows: Any = cursor.fetchall()
        if self.converters and rows:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        if not self.models:
            return [tuple(row) for row in rows]
        start, end = self.span
        out = []
        for row in rows:
            obj = self.model.from_db(self.alias, self.init_list, row[start:end])
            for populator in self.populators:
                populator.populate(row, obj)
            out.append(obj)
        return out


class Prepared:
    """A QuerySet shape, ``build(*markers)``, compiled once per thread and database.

    ``Prepared(lambda ref: Enrollment.objects.filter(reference=ref)[:1], str)``;
    ``query(value)`` returns the model instances (or the rows of a
    ``values_list`` QuerySet), ``query.first(value)`` the first or None.
    """

    def __init__(self, build: Callable[..., QuerySet], *kinds: type) -> None:
        self._build = build
        self._kinds = kinds
        self._local = threading.local()

    def _compiled(self) -> _Compiled:
        compiled: _Compiled | None = getattr(self._local, "compiled", None)
        if compiled is None or compiled.compiler.connection is not connections[compiled.alias]:
            markers = [_marker(kind, i) for i, kind in enumerate(self._kinds)]
            compiled = _Compiled(self._build(*markers), markers)
            self._local.compiled = compiled
        return compiled

    def __call__(self, *values: object) -> list[Any]:
        return self._compiled().run(values)

    def first(self, *values: object) -> Any:
        found = self(*values)
        return found[0] if found else None
