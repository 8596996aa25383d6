"""certauth.prepared: hot-path queries compiled once, the same rows as the ORM's, and
prepared by PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from certauth import services
from certauth.models import Enrollment
from certauth.prepared import Prepared, update_returning
from cmp.models import CMPTransaction

pytestmark = pytest.mark.django_db

_BY_REFERENCE = Prepared(
    lambda reference: Enrollment.objects.select_related("ca").filter(reference=reference)[:1],
    str,
)


@pytest.fixture
def enrollments(ec_root):
    return [
        services.create_enrollment(reference=f"dev-{i}", password="secret-123", ca=ec_root)
        for i in range(3)
    ]


def test_a_prepared_query_gives_the_orms_rows_with_each_value(enrollments):
    for enrollment in enrollments:
        found = _BY_REFERENCE.first(enrollment.reference)
        assert found is not None and found.pk == enrollment.pk
        assert found.reference == enrollment.reference
        assert found.ca.pk == enrollment.ca_id and found.ca.name == enrollment.ca.name
        assert Enrollment.ca.is_cached(found)  # select_related: no second query
    assert _BY_REFERENCE.first("dev-none") is None
    with CaptureQueriesContext(connection) as captured:
        _BY_REFERENCE("dev-1")
    # seen by query captures like any other, with its SQL
    assert len(captured.captured_queries) == 1
    assert "dev-1" in captured.captured_queries[0]["sql"]


def _transaction(state: str, tid: str) -> CMPTransaction:
    return CMPTransaction.objects.create(
        transaction_id=tid, body_type="ir", state=state, server_nonce="00", sender_kid="dev-0"
    )


def test_update_returning_changes_only_the_matching_row_and_returns_it():
    waiting = _transaction(CMPTransaction.State.WAITING_CONFIRM, "aa")
    other = _transaction(CMPTransaction.State.WAITING_CONFIRM, "bb")
    rows = update_returning(
        CMPTransaction,
        {"state": CMPTransaction.State.CONFIRMED},
        {"transaction_id": "aa", "state": CMPTransaction.State.WAITING_CONFIRM},
        ("pk", "sender_kid", "body_type"),
    )
    assert rows == [(waiting.pk, "dev-0", "ir")]
    waiting.refresh_from_db()
    other.refresh_from_db()
    assert waiting.state == CMPTransaction.State.CONFIRMED
    assert other.state == CMPTransaction.State.WAITING_CONFIRM
    # Claimed already: nothing matches, nothing changes.
    again = update_returning(
        CMPTransaction,
        {"state": CMPTransaction.State.REJECTED},
        {"transaction_id": "aa", "state": CMPTransaction.State.WAITING_CONFIRM},
        ("pk", "sender_kid", "body_type"),
    )
    assert again == []
    waiting.refresh_from_db()
    assert waiting.state == CMPTransaction.State.CONFIRMED


def _prepared_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares statements")
def test_postgresql_prepares_the_hot_path_statements_unless_turned_off(enrollments, settings):
    shape = 'AS "pk" FROM "certauth_enrollment" WHERE "certauth_enrollment"."reference" = $1'
    marker = Prepared(
        lambda reference: Enrollment.objects.filter(reference=reference).values_list("pk")[:1], str
    )
    settings.FAC_DB_PREPARED_STATEMENTS = False
    assert marker("dev-0") == [(enrollments[0].pk,)]
    assert not [s for s in _prepared_statements() if shape in s]
    settings.FAC_DB_PREPARED_STATEMENTS = True
    assert marker("dev-1") == [(enrollments[1].pk,)]
    assert marker("dev-2") == [(enrollments[2].pk,)]
    # Prepared once, with a parameter for the reference: one statement, both values.
    assert len([s for s in _prepared_statements() if shape in s]) == 1
    # Django's own queries keep client-side binding: none of them is prepared.
    before = _prepared_statements()
    assert list(Enrollment.objects.filter(reference="dev-0").values_list("pk"))
    assert Enrollment.objects.get(reference="dev-1").pk == enrollments[1].pk
    assert _prepared_statements() == before
