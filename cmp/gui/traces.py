"""Debug > Others > SCEP/CMP: the recorded exchanges, filtered and paged per transaction.

A page shows :data:`PER_PAGE` transactions (an exchange without a transaction
ID is one of its own), newest first, each with all its messages and their
sequence diagram. The filters choose the transactions: one message that
matches (an ir, an error, an address) brings its whole transaction. The
bodies are never loaded here (``defer``); only their sizes are.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import CharField, F, Max, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Length
from django.http import QueryDict

from certauth.gui.listing import Page
from cmp.gui import sequence
from cmp.models import CMPTrace, CMPTransaction
from scep.models import SCEPTrace, SCEPTransaction

PER_PAGE = 25
#: Messages shown per page at most (a transaction that polled a thousand times).
MAX_ROWS = 1000
COUNT_LIMIT = 1000

CMP_BODIES = ["ir", "cr", "kur", "p10cr", "certConf", "rr", "genm", "pollReq", "error"]
SCEP_MESSAGES = ["PKCSReq", "RenewalReq", "CertPoll", "GetCert", "GetCRL"]
SCEP_OPERATIONS = ["GetCACaps", "GetCACert", "GetNextCACert"]


class TraceFilterForm(forms.Form):
    """The filters (GET); every field is optional, an invalid one is ignored."""

    protocol = forms.ChoiceField(
        label="Protocol",
        required=False,
        choices=[("", "CMP and SCEP"), ("cmp", "CMP"), ("scep", "SCEP")],
    )
    enrollment = forms.CharField(label="Enrollment ID", required=False, max_length=128)
    source_ip = forms.CharField(label="Source IP", required=False, max_length=45)
    body_type = forms.ChoiceField(
        label="Message type",
        required=False,
        choices=[
            ("", "Any"),
            ("CMP", [(name, name if name != "kur" else "kur (kup)") for name in CMP_BODIES]),
            ("SCEP", [(name, name) for name in SCEP_MESSAGES + SCEP_OPERATIONS]),
        ],
    )
    transaction = forms.CharField(label="Transaction ID", required=False, max_length=256)
    since = forms.DateTimeField(
        label="From",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        label="To",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    errors = forms.BooleanField(label="Errors only", required=False)

    def value(self, name: str):
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        value = data.get(name)
        return value.strip() if isinstance(value, str) else value

    def shows(self, protocol: str) -> bool:
        """Whether the section of *protocol* ("cmp" or "scep") is shown."""
        chosen = self.value("protocol")
        body = self.value("body_type")
        if body:
            return (body in CMP_BODIES) == (protocol == "cmp")
        return not chosen or chosen == protocol

    def _common(self, queryset: QuerySet) -> QuerySet:
        if self.value("source_ip"):
            queryset = queryset.filter(source_ip__icontains=self.value("source_ip"))
        if self.value("transaction"):
            queryset = queryset.filter(transaction_id__icontains=self.value("transaction"))
        if self.value("since"):
            queryset = queryset.filter(created__gte=self.value("since"))
        if self.value("until"):
            queryset = queryset.filter(created__lte=self.value("until"))
        return queryset

    def cmp(self, queryset: QuerySet[CMPTrace]) -> QuerySet[CMPTrace]:
        queryset = self._common(queryset)
        reference = self.value("enrollment")
        if reference:
            # A MAC's senderKID is the enrollment ID; a signed request's transaction
            # knows its enrollment.
            queryset = queryset.filter(
                Q(sender_kid__icontains=reference)
                | Q(
                    transaction_id__in=CMPTransaction.objects.filter(
                        enrollment__reference__icontains=reference
                    ).values("transaction_id")
                )
            )
        if self.value("body_type"):
            queryset = queryset.filter(body_type=self.value("body_type"))
        if self.value("errors"):
            queryset = queryset.filter(
                ~Q(error="") | Q(http_status__gte=400) | Q(body_type="error")
            )
        return queryset

    def scep(self, queryset: QuerySet[SCEPTrace]) -> QuerySet[SCEPTrace]:
        queryset = self._common(queryset)
        reference = self.value("enrollment")
        if reference:
            queryset = queryset.filter(
                transaction_id__in=SCEPTransaction.objects.filter(
                    enrollment__reference__icontains=reference
                ).values("transaction_id")
            )
        body = self.value("body_type")
        if body in SCEP_MESSAGES:
            queryset = queryset.filter(message_type__startswith=f"{body} (")
        elif body:
            queryset = queryset.filter(operation=body)
        if self.value("errors"):
            queryset = queryset.filter(
                ~Q(fail_info="") | ~Q(error="") | Q(pki_status="FAILURE") | Q(http_status__gte=400)
            )
        return queryset


@dataclass
class Section:
    """One protocol's transactions on this page."""

    protocol: str
    groups: list[dict]
    page: Page
    recorded: int


def _page_number(params: QueryDict, name: str) -> int:
    try:
        return max(1, int(params.get(name, "1")))
    except ValueError:
        return 1


def _query(params: QueryDict, name: str, number: int | None) -> str:
    query = params.copy()
    query.pop(name, None)
    if number is not None and number > 1:
        query[name] = str(number)
    return query.urlencode()


def paged_groups(
    filtered: QuerySet,
    rows: QuerySet,
    params: QueryDict,
    page_param: str,
    messages,
    per_page: int = PER_PAGE,
) -> tuple[list[dict], Page]:
    """The page of transactions of *filtered*, newest first, each with all its
    messages from *rows* (which defers the bodies) and its diagram."""
    number = _page_number(params, page_param)
    with_id = filtered.exclude(transaction_id="").values("transaction_id")
    with_id = with_id.annotate(last=Max("id")).values_list("transaction_id", "last").order_by()
    # Exchanges without a transactionID: each its own group (key "#pk").
    alone = filtered.filter(transaction_id="").annotate(
        tid=Concat(Value("#"), Cast("id", CharField()), output_field=CharField()),
        last=F("id"),
    )
    keys = with_id.union(alone.values_list("tid", "last").order_by(), all=True).order_by("-last")
    offset = (number - 1) * per_page
    chosen = list(keys[offset : offset + per_page + 1])
    if number == 1 and len(chosen) <= per_page:
        count = len(chosen)
    else:
        count = len(keys[: COUNT_LIMIT + 1])
        if not chosen and count and count <= COUNT_LIMIT:
            number = max(1, -(-count // per_page))
            offset = (number - 1) * per_page
            chosen = list(keys[offset : offset + per_page + 1])
    has_next = len(chosen) > per_page
    chosen = chosen[:per_page]
    transaction_ids = [key for key, _ in chosen if not key.startswith("#")]
    pks = [int(key[1:]) for key, _ in chosen if key.startswith("#")]
    traces = list(
        rows.filter(Q(transaction_id__in=transaction_ids) | Q(pk__in=pks)).order_by("id")[:MAX_ROWS]
    )
    by_key: dict[str, list] = {}
    for trace in traces:
        by_key.setdefault(trace.transaction_id or f"#{trace.pk}", []).append(trace)
    groups = []
    for key, _last in chosen:
        items = by_key.get(key, [])
        steps = messages(items)
        failure = sequence.first_failure(steps)
        groups.append(
            {
                "transaction_id": "" if key.startswith("#") else key,
                "traces": items,
                "diagram": sequence.svg(steps),
                "failed": failure,
            }
        )
    page = Page(
        object_list=groups,
        number=number,
        per_page=per_page,
        count=count,
        count_limit=COUNT_LIMIT,
        has_next=has_next,
    )
    page.queries = {
        "first": _query(params, page_param, None),
        "previous": _query(params, page_param, number - 1),
        "next": _query(params, page_param, number + 1),
        "last": _query(params, page_param, page.num_pages) if page.num_pages else None,
    }
    return groups, page


def cmp_rows() -> QuerySet[CMPTrace]:
    return CMPTrace.objects.defer("request_der", "response_der").annotate(
        request_size=Length("request_der"), response_size=Length("response_der")
    )


def scep_rows() -> QuerySet[SCEPTrace]:
    return SCEPTrace.objects.defer("request_der", "response_der", "csr_text").annotate(
        request_size=Length("request_der"), response_size=Length("response_der")
    )


def cmp_section(form: TraceFilterForm, params: QueryDict) -> Section:
    filtered = form.cmp(CMPTrace.objects.all())
    groups, page = paged_groups(filtered, cmp_rows(), params, "page", sequence.cmp_messages)
    return Section("cmp", groups, page, CMPTrace.objects.count())


def scep_section(form: TraceFilterForm, params: QueryDict) -> Section:
    filtered = form.scep(SCEPTrace.objects.all())
    groups, page = paged_groups(filtered, scep_rows(), params, "scep_page", sequence.scep_messages)
    return Section("scep", groups, page, SCEPTrace.objects.count())


def scep_diagram(trace: SCEPTrace) -> dict:
    """The diagram of *trace*'s transaction for its decode page (``diagram``, ``failure``)."""
    if trace.transaction_id:
        exchange = list(
            scep_rows().filter(transaction_id=trace.transaction_id).order_by("id")[:MAX_ROWS]
        )
    else:
        exchange = [trace]
    steps = sequence.scep_messages(exchange)
    return {"diagram": sequence.svg(steps), "failure": sequence.first_failure(steps)}
