"""Reads of the FHIR API: one resource, or a page of a search as a ``searchset`` Bundle.

Each read of patient data writes one audit event per patient shown, in the read's own
transaction (``audit.api.audit_record_many``: three statements however many), so a page of 100
resources costs the queries of a page of 10. Pages follow a stable order (the public id) and
the next page starts after the last id shown (keyset paging: no offset to drift or to cost
more the deeper a client goes).

A type computed on request (``ResourceType.computed``) is read and searched the same way over
the rows it computes: in the order of its ids, the next page after the last id shown; it shows
no patient data, so it writes no read event.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from ketaclinic.audit.api import audit_record, audit_record_many
from ketaclinic.audit.models import Action
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.http import FhirError, outcome
from ketaclinic.fhir.pages import PAGES
from ketaclinic.fhir.resources.base import Computed, ResourceType, instant
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.fhir.search import FHIR_ID, Search, not_a_page_link, parse


def resource_type(name: str, reader: FhirReader | None = None) -> ResourceType:
    """The served type of that name, if the reader's scopes name it."""
    kind = REGISTRY.get(name)
    if kind is None:
        raise FhirError(
            404,
            f"This server does not serve {name[:60]} (see /metadata for what it serves).",
            code="not-supported",
        )
    refusal = reader.refusal(kind.name) if reader is not None else ""
    if refusal:
        raise FhirError(403, refusal, code="forbidden")
    return kind


def _audit(
    reader: FhirReader,
    kind: ResourceType,
    shown: list[tuple[ResourceType, Any]],
    interaction: str,
    resources: int,
) -> None:
    """One read event per patient whose data the response shows (none for the directory); for
    a type whose page audits its reads as one event (``ResourceType.read_event``: the audit
    trail), that one event, found rows or none, as the page writes it."""
    if kind.read_event:
        audit_record(
            actor=reader.actor,
            action=Action.READ,
            object_type=kind.read_event,
            detail={"interaction": interaction, "type": kind.name, "resources": resources},
        )
        return
    seen: dict[int, Any] = {}
    for kind, row in shown:
        patient = kind.patient_of(row) if kind.patient_of is not None else None
        if patient is not None:
            seen.setdefault(patient.pk, patient)
    audit_record_many(
        actor=reader.actor,
        action=Action.READ,
        object_type="fhir_read",
        patients=list(seen.values()),
        detail={
            "interaction": interaction,
            "type": shown[0][0].name if shown else "",
            "resources": resources,
        }
        | ({"client": reader.client} if reader.client else {}),
    )


def fhir_read(*, reader: FhirReader, type_name: str, resource_id: str) -> dict[str, Any]:
    """One resource the reader may see, or a 404."""
    kind = resource_type(type_name, reader)
    if kind.computed is not None:
        return _computed_read(reader, kind, kind.computed, resource_id)
    try:
        key = uuid.UUID(resource_id)
    except ValueError:
        raise FhirError(404, f"No {kind.name} with that id.") from None
    with transaction.atomic():
        for part in kind.parts:
            row = part.rows(reader).filter(public_id=key).first()
            if row is not None:
                _audit(reader, kind, [(part, row)], "read", 1)
                return part.to_fhir(row)
    raise FhirError(404, f"No {kind.name} with that id.")


def _computed_read(
    reader: FhirReader, kind: ResourceType, computed: Computed, resource_id: str
) -> dict[str, Any]:
    """A computed type's read: its search by ``_id`` with that one id."""
    if not computed.readable:
        raise FhirError(
            405, f"{kind.name} is searched, not read by id (see /metadata).", code="not-supported"
        )
    if FHIR_ID.fullmatch(resource_id) is None:
        raise FhirError(404, f"No {kind.name} with that id.")
    narrowed = kind.all_params["_id"].apply(computed.start(reader), [resource_id])
    for row in computed.rows(reader, narrowed, None):
        if computed.id_of(row) == resource_id:
            return kind.to_fhir(row)
    raise FhirError(404, f"No {kind.name} with that id.")


def _computed_page(
    reader: FhirReader, kind: ResourceType, computed: Computed, query: QueryDict, strict: bool
) -> tuple[Search[Any], list[tuple[ResourceType, Any]], bool]:
    """A page of a computed type, in the order of its ids, after the cursor's id."""
    search = parse(query, computed.start(reader), kind.all_params, strict=strict, computed=True)
    after = str(search.after) if search.after is not None else None
    if after is not None and computed.is_id is not None and not computed.is_id(after):
        raise not_a_page_link()
    rows = sorted(computed.rows(reader, search.queryset, after), key=computed.id_of)
    if after is not None:
        rows = [row for row in rows if computed.id_of(row) > after]
    page = [(kind, row) for row in rows[: search.count]]
    return search, page, len(rows) > search.count


def fhir_search(
    *,
    reader: FhirReader,
    type_name: str,
    query: QueryDict,
    strict: bool,
    base: str,
    sealed: str = "",
) -> dict[str, Any]:
    """A page of the type's resources the reader may see and the query matches; ``sealed``:
    the page links carry the search's terms sealed (``fhir.pages``), not in the clear."""
    kind = resource_type(type_name, reader)
    if kind.computed is not None:
        search, page, more = _computed_page(reader, kind, kind.computed, query, strict)
        return _bundle(kind, search, page, [], more, base, sealed)
    searches = [
        (
            part,
            parse(
                query, part.rows(reader), part.all_params, strict=strict, includes=kind.all_includes
            ),
        )
        for part in kind.parts
    ]
    search = searches[0][1]  # the parameters read alike for every part
    with transaction.atomic():
        # One more than a page says whether there is a next page, without a count; each table
        # gives its first page and the merge keeps the first of them all in public-id order.
        found: list[tuple[ResourceType, Any]] = []
        for part, each in searches:
            rows_qs = each.queryset.order_by("public_id")
            if each.after is not None:
                rows_qs = rows_qs.filter(public_id__gt=each.after)
            if each.count:
                found += [(part, row) for row in rows_qs[: each.count + 1]]
        found.sort(key=lambda pair: pair[1].public_id)
        more = len(found) > search.count
        page = found[: search.count]
        included = _included(reader, page, search.includes)
        shown = page + included
        _audit(reader, kind, shown, "search", len(shown))
    return _bundle(kind, search, page, included, more, base, sealed)


def _bundle(
    kind: ResourceType,
    search: Search[Any],
    page: list[tuple[ResourceType, Any]],
    included: list[tuple[ResourceType, Any]],
    more: bool,
    base: str,
    sealed: str,
) -> dict[str, Any]:
    """The searchset Bundle of a page: its entries, the ignored parameters, the links."""
    link = f"{base}{kind.name}"
    terms = [(PAGES, sealed)] if sealed else search.kept
    kept = [*terms, ("_count", str(search.count))]
    links = [{"relation": "self", "url": _url(link, kept, search.after)}]
    if more and page:
        last, row = page[-1]
        links.append({"relation": "next", "url": _url(link, kept, last.id_of(row))})
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{link}/{part.id_of(row)}",
            "resource": part.to_fhir(row),
            "search": {"mode": "match"},
        }
        for part, row in page
    ]
    entries += [
        {
            "fullUrl": f"{base}{other.name}/{other.id_of(row)}",
            "resource": other.to_fhir(row),
            "search": {"mode": "include"},
        }
        for other, row in included
    ]
    if search.ignored:
        names = ", ".join(sorted(set(search.ignored)))
        entries.append(
            {
                "resource": outcome(
                    f"Ignored search parameters this server does not support: {names}.",
                    code="not-supported",
                    severity="warning",
                ),
                "search": {"mode": "outcome"},
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(timezone.now())},
        "type": "searchset",
        "link": links,
    }
    if entries:  # FHIR allows no empty list
        bundle["entry"] = entries
    return bundle


def _included(
    reader: FhirReader, page: list[tuple[ResourceType, Any]], includes: list[str]
) -> list[tuple[ResourceType, Any]]:
    """The rows ``_include`` asks for, each once: joined with the page's rows already, so no
    query is added, and in the reader's scope because the row that names them is; none of a
    type the reader's token may not read."""
    found: list[tuple[ResourceType, Any]] = []
    seen: set[tuple[str, Any]] = set()
    for wanted in includes:
        for part, row in page:
            if wanted not in part.includes:
                continue
            type_name, related = part.includes[wanted]
            if not reader.may_read(type_name):
                continue
            target = related(row)
            if target is not None and (type_name, target.pk) not in seen:
                seen.add((type_name, target.pk))
                found.append((REGISTRY[type_name], target))
    return found


def _url(link: str, kept: list[tuple[str, str]], after: uuid.UUID | str | None) -> str:
    params = [*kept, ("_cursor", str(after))] if after is not None else kept
    return f"{link}?{urlencode(params)}"
