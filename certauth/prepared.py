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

:func:`insert` and :func:`update` do the same for the INSERT of a new row and
the UPDATE of some of its fields.

On PostgreSQL these statements also go to the server as prepared statements
(psycopg's server-side binding, ``PREPARE`` on first use per connection), so
the server parses and plans each of them once per connection instead of once
per request; every other query of the product keeps Django's client-side
binding. ``FAC_DB_PREPARED_STATEMENTS=false`` turns this off (a connection
pooler in transaction mode older than PgBouncer 1.21 cannot keep prepared
statements); while queries are logged (DEBUG, a test's query capture) they go
through Django's cursor, so that the log shows each with its values.

Only parameters given as markers vary; everything else in the QuerySet is
fixed when it is built. Markers are ``int``, ``str`` or ``datetime`` values.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.db.models.signals import post_save, pre_save
from django.db.models.sql.subqueries import InsertQuery

_MARKER_TIME = dt.datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)


def _marker(kind: type, index: int) -> object:
    if kind is int:
        return -(10**15) - 7919 * index
    if kind is str:
        return f"\x01prepared marker {index}\x01"
    if kind is dt.datetime:
        return _MARKER_TIME + dt.timedelta(seconds=index)
    raise TypeError(f"no marker for {kind.__name__}")


def _cursor(connection) -> Any:
    """A cursor of *connection* for a statement of this module.

    On PostgreSQL (unless FAC_DB_PREPARED_STATEMENTS is off, or queries are being
    logged) a psycopg cursor with server-side binding, whose statements the
    connection prepares, wrapped as Django wraps its own (execute wrappers see it).
    """
    if (
        connection.vendor != "postgresql"
        or not getattr(settings, "FAC_DB_PREPARED_STATEMENTS", True)
        # Queries logged (DEBUG, a query capture): Django's own cursor, whose log
        # shows each statement with its values (a server-bound one's it cannot).
        or connection.queries_logged
    ):
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        import psycopg

        # Server-side binding: prepared on its first run (prepare_threshold 0,
        # fac/settings.py).
        raw = psycopg.Cursor(connection.connection)
        # As Django's create_cursor: the connection's time zone for timestamps.
        from django.db.backends.postgresql.psycopg_any import register_tzloader
        from psycopg.pq import Format

        loader = connection.connection.adapters.get_loader(1184, Format.TEXT)  # timestamptz
        if connection.timezone != loader.timezone:
            register_tzloader(connection.timezone, raw)
        return connection._prepare_cursor(raw)


class _Compiled:
    def __init__(self, queryset: QuerySet, markers: Sequence[object]) -> None:
        self.alias = queryset.db
        connection = connections[self.alias]
        compiler = queryset.query.get_compiler(using=self.alias)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = list(params)
        # Where each marker's value goes (a value may be used more than once).
        self.positions: list[list[int]] = []
        for marker in markers:
            adapted = self._adapt(connection, marker)
            found = [i for i, value in enumerate(self.params) if value == adapted]
            if not found:
                raise ValueError(f"marker {marker!r} is not among the parameters")
            self.positions.append(found)
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
            # annotate(): set on each instance, as ModelIterable does
            self.annotations = list(compiler.annotation_col_map.items())

    @staticmethod
    def _adapt(connection, value: object) -> object:
        if isinstance(value, dt.datetime):
            return connection.ops.adapt_datetimefield_value(value)
        return value

    def run(self, values: Sequence[object]) -> list[Any]:
        connection = connections[self.alias]
        params = list(self.params)
        for positions, value in zip(self.positions, values, strict=True):
            adapted = self._adapt(connection, value)
            for position in positions:
                params[position] = adapted
        with _cursor(connection) as cursor:
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
            for name, position in self.annotations:
                setattr(obj, name, row[position])
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


class _CompiledInsert:
    def __init__(self, obj: Model, alias: str) -> None:
        meta = obj._meta
        self.alias = alias
        self.fields = [
            f
            for f in meta.local_concrete_fields
            if f is not meta.auto_field and not getattr(f, "generated", False)
        ]
        self.returning = list(meta.db_returning_fields)
        query = InsertQuery(type(obj))
        query.insert_values(self.fields, [obj])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = self.returning
        statements = compiler.as_sql()
        if len(statements) != 1:
            raise ValueError("one INSERT statement expected")
        self.sql = statements[0][0]
        self.returning_params = getattr(compiler, "returning_params", ())
        self.connection = compiler.connection

    def run(self, obj: Model) -> None:
        connection = connections[self.alias]
        params = [
            field.get_db_prep_save(field.pre_save(obj, True), connection=connection)
            for field in self.fields
        ]
        with _cursor(connection) as cursor:
            cursor.execute(self.sql, params)
            if connection.features.can_return_columns_from_insert:
                row = connection.ops.fetch_returned_insert_columns(  # type: ignore[attr-defined]
                    cursor, self.returning_params
                )
            else:
                row = (
                    connection.ops.last_insert_id(
                        cursor, obj._meta.db_table, str(self.returning[0].column)
                    ),
                )
        for field, value in zip(self.returning, row, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = self.alias


_inserts = threading.local()


def insert(obj: Model) -> None:
    """``obj.save(force_insert=True)`` with the INSERT compiled once per model and thread.

    For a new row of a model with an auto primary key and no save() of its
    own; a model with pre_save or post_save receivers is saved the usual way.
    """
    model = type(obj)
    if (
        model.save is not Model.save
        or obj.pk is not None
        or pre_save.has_listeners(model)
        or post_save.has_listeners(model)
        or [f for f in model._meta.db_returning_fields] != [model._meta.auto_field]
    ):
        obj.save(force_insert=True)
        return
    alias = router.db_for_write(model, instance=obj)
    obj._prepare_related_fields_for_save(operation_name="save")  # type: ignore[attr-defined]
    cache: dict[tuple[type, str], _CompiledInsert] = _inserts.__dict__.setdefault("cache", {})
    compiled = cache.get((model, alias))
    if compiled is None or compiled.connection is not connections[alias]:
        compiled = cache[(model, alias)] = _CompiledInsert(obj, alias)
    compiled.run(obj)


def update(obj: Model, fields: Sequence[str]) -> None:
    """``obj.save(update_fields=fields)`` as one UPDATE by primary key, without the ORM's
    query building (``auto_now`` fields are set as save() sets them).

    A model with a save() of its own or pre_save/post_save receivers is saved the usual way.
    """
    model = type(obj)
    if (
        model.save is not Model.save
        or obj.pk is None
        or pre_save.has_listeners(model)
        or post_save.has_listeners(model)
    ):
        obj.save(update_fields=fields)
        return
    alias = router.db_for_write(model, instance=obj)
    connection = connections[alias]
    sql, fields_then_pk = _update_statement(model, alias, tuple(fields), ("pk",), ())
    *concrete, pk = fields_then_pk
    params = [
        field.get_db_prep_save(field.pre_save(obj, False), connection=connection)
        for field in concrete
    ]
    params.append(pk.get_db_prep_value(obj.pk, connection))
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


_updates = threading.local()


def _update_statement(
    model: type[Model],
    alias: str,
    assign: tuple[str, ...],
    where: tuple[str, ...],
    returning: tuple[str, ...],
) -> tuple[str, list[Any]]:
    """``UPDATE table SET assign = %s, ... WHERE where = %s AND ... [RETURNING ...]``
    and the fields of its parameters (*assign*'s, then *where*'s), built once per
    shape and thread. ``"pk"`` names the primary key."""
    key = (model, alias, assign, where, returning)
    cache: dict[tuple, tuple[str, list[Any]]] = _updates.__dict__.setdefault("cache", {})
    built = cache.get(key)
    if built is None:
        meta = model._meta
        quote = connections[alias].ops.quote_name

        def field(name: str) -> Any:
            return meta.pk if name == "pk" else meta.get_field(name)

        assigned = [field(name) for name in assign]
        matched = [field(name) for name in where]
        sql = (
            f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608 - names from the model
            + ", ".join(f"{quote(f.column)} = %s" for f in assigned)
            + " WHERE "
            + " AND ".join(f"{quote(f.column)} = %s" for f in matched)
        )
        if returning:
            sql += " RETURNING " + ", ".join(quote(field(name).column) for name in returning)
        built = cache[key] = (sql, assigned + matched)
    return built


def update_returning(
    model: type[Model],
    assign: dict[str, object],
    where: dict[str, object],
    returning: Sequence[str],
) -> list[tuple]:
    """``UPDATE`` the rows of *model* whose fields equal *where*, setting *assign*, and
    return the *returning* columns of each row changed, as the database gives them:
    a read, a lock and a write in one statement (``RETURNING``: PostgreSQL, SQLite
    3.35+). For fields stored as they are read (numbers, text). The SQL is built once
    per shape and thread; ``auto_now`` fields are set only where *assign* names them.
    """
    alias = router.db_for_write(model)
    connection = connections[alias]
    sql, fields = _update_statement(model, alias, tuple(assign), tuple(where), tuple(returning))
    params = [
        field.get_db_prep_value(value, connection)
        for field, value in zip(fields, [*assign.values(), *where.values()], strict=True)
    ]
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]
