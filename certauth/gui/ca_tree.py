"""The CA hierarchy on Local CAs: roots, and under each the intermediates it signed.

A local CA whose issuer is not a local CA (an imported intermediate) stands at
the top, marked as such. The tree follows the list's status filter: it shows
the CAs the filter selects and, so that each hangs under its issuer, their
ancestors (marked as outside the filter). One query whatever the depth
(parents are matched in memory), and one for the filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from certauth.models import CertificateAuthority

EXPIRY_WARNING_DAYS = 30


@dataclass
class Node:
    ca: CertificateAuthority
    status: str
    days_left: int
    self_signed: bool
    selected: bool = True  # False: shown only as the issuer of a selected CA
    children: list[Node] = field(default_factory=list)

    @property
    def expires_soon(self) -> bool:
        return self.status == CertificateAuthority.Status.ACTIVE and (
            self.days_left < EXPIRY_WARNING_DAYS
        )

    @property
    def issued_by_outside(self) -> bool:
        """An intermediate whose issuer is not one of our local CAs."""
        return not self.self_signed and self.ca.parent_id is None


def ca_tree(now: dt.datetime | None = None, selected: Iterable[int] | None = None) -> list[Node]:
    """The local CAs as trees; with *selected* (primary keys), those and their ancestors."""
    now = now or timezone.now()
    cas = list(
        CertificateAuthority.objects.local()
        .only(
            "name",
            "subject",
            "issuer",
            "parent_id",
            "not_before",
            "not_after",
            "revoked_at",
            "encrypted_key",
        )
        .order_by("name")
    )
    nodes = {
        ca.pk: Node(
            ca=ca,
            status=ca.status_at(now),
            days_left=(ca.not_after - now).days,
            self_signed=ca.subject == ca.issuer,
        )
        for ca in cas
    }
    if selected is not None:
        chosen = set(selected)
        shown: set[int] = set()
        for pk in chosen & nodes.keys():
            current: int | None = pk
            while current is not None and current in nodes and current not in shown:
                shown.add(current)
                current = nodes[current].ca.parent_id
        for pk, node in nodes.items():
            node.selected = pk in chosen
        nodes = {pk: node for pk, node in nodes.items() if pk in shown}
    roots = []
    for ca in cas:
        if ca.pk not in nodes:
            continue
        parent = nodes.get(ca.parent_id) if ca.parent_id else None
        if parent is None or parent is nodes[ca.pk]:
            roots.append(nodes[ca.pk])
        else:
            parent.children.append(nodes[ca.pk])
    return roots
