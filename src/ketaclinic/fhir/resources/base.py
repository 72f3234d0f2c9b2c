"""What a resource type of the API is: who may see which rows, how a row becomes a resource,
its search parameters, and whose record a row is (for the audit trail).

Most types are rows of tables. A few are computed on request (``Computed``): the questionnaires
are the instrument registry's, a schedule is a provider's hours at a location, a free slot is
what the booking pages compute; none of them is patient data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.search import Param, dates, ids
from ketaclinic.patients.models import Patient


@dataclass(frozen=True)
class Computed:
    """How a type that is no table's rows finds its resources.

    ``start(reader)`` is everything the reader may see before any parameter: a list of rows (the
    instruments, the clinic's schedules), or a description of a query the parameters fill in
    (free slots cannot be listed without a schedule and a time range). The type's parameters
    narrow it as they narrow a queryset. ``rows(reader, narrowed, after)`` then gives the rows
    (``to_fhir`` makes each a resource), or raises a ``FhirError`` 400 naming a parameter the
    search needs; ``after`` is the last id of the previous page, a hint a type may use to skip
    what sorts before it. ``id_of`` is a row's resource id: pages follow the ids' (text) order,
    so a type whose clients want another order writes it into its ids (a slot's starts with
    its start). ``readable``: False serves search only (no read by id); a read is otherwise the
    type's ``_id`` parameter with that one id. ``is_id`` says whether a page link's cursor is
    an id the type could have made (None: any id); one it could not is a 400, not an empty page.
    """

    start: Callable[[FhirReader], Any]
    rows: Callable[[FhirReader, Any, str | None], Sequence[Any]]
    id_of: Callable[[Any], str]
    readable: bool = True
    is_id: Callable[[str], bool] | None = None


def no_table(reader: FhirReader) -> QuerySet[Any]:
    """``rows`` of a computed type, which has no table: see ``ResourceType.computed``."""
    raise TypeError("A computed type has no table's rows; read it through ResourceType.computed.")


@dataclass(frozen=True)
class ResourceType:
    """One FHIR resource type the API serves.

    ``rows`` is every row the reader may see (the web app's own rule), with what ``to_fhir``
    reads joined, so a page of 100 costs the queries of a page of 10. ``patient_of`` names the
    patient a row belongs to, for the read events; None for directory types, whose reads carry
    no patient data.

    A type with ``computed`` is no table's rows (its ``rows`` is ``no_table``): it names its own
    ``_id`` parameter, has no ``_lastUpdated``, ``_include`` or further tables, and shows no
    patient data (so no read events).
    """

    name: str
    rows: Callable[[FhirReader], QuerySet[Any]]
    to_fhir: Callable[[Any], dict[str, Any]]
    params: Mapping[str, Param]
    updated_field: str | None = None
    patient_of: Callable[[Any], Patient | None] | None = None
    doc: str = ""
    # ``_include`` values (``Appointment:patient``): the type included and the row's related
    # row, which ``rows`` has joined already (in the reader's scope, as the row is).
    includes: Mapping[str, tuple[str, Callable[[Any], Model | None]]] = field(default_factory=dict)
    # Further tables that hold resources of the same type (an Observation is a diary entry, a
    # charted vital sign or an exam's measurement): each with the same search parameters, read
    # and searched together, in one public-id order.
    more: tuple[ResourceType, ...] = ()
    # For the tables of millions of rows (the diary): the same rows as ``rows`` with only the
    # columns ``to_fhir`` reads, for a bulk export, which renders no ``_include`` (``rows``
    # joins the patient's and clinic's whole rows for that: kilobytes a row). None: ``rows``.
    export_rows: Callable[[FhirReader], QuerySet[Any]] | None = None
    computed: Computed | None = None
    # The object type of the one read event a read or a search of the type writes, found rows or
    # none, as the page that shows these rows audits its reads ("audit_log": the audit trail);
    # empty for one read event per patient shown.
    read_event: str = ""
    all_params: Mapping[str, Param] = field(init=False)

    def __post_init__(self) -> None:
        common = {"_id": Param("token", ids("public_id"), "The resource's id.")}
        if self.computed is not None:
            if "_id" not in self.params:
                raise ValueError(f"{self.name}: a computed type names its own _id parameter")
            if self.updated_field or self.patient_of or self.includes or self.more:
                raise ValueError(
                    f"{self.name}: a computed type has no _lastUpdated, patient, _include or"
                    " further tables"
                )
            if self.read_event:
                raise ValueError(f"{self.name}: a computed type shows no record to audit")
            common = {}
        if self.updated_field is not None:
            common["_lastUpdated"] = Param(
                "date",
                dates(self.updated_field, param="_lastUpdated"),
                "When the resource last changed.",
            )
        object.__setattr__(self, "all_params", {**common, **self.params})
        for other in self.more:
            if other.name != self.name or set(other.all_params) != set(self.all_params):
                raise ValueError(f"{other.name}: every source of a type takes the same params")

    @property
    def parts(self) -> tuple[ResourceType, ...]:
        """Every table the type's resources come from, this one first."""
        return (self, *self.more)

    @property
    def all_includes(self) -> list[str]:
        return list(dict.fromkeys(name for part in self.parts for name in part.includes))

    @property
    def interactions(self) -> tuple[str, ...]:
        """The type's REST interactions (the CapabilityStatement lists exactly these)."""
        if self.computed is not None and not self.computed.readable:
            return ("search-type",)
        return ("read", "search-type")

    def id_of(self, row: Any) -> str:
        """A row's resource id: its public id, or what a computed type makes of it."""
        if self.computed is not None:
            return self.computed.id_of(row)
        return str(row.public_id)


def instant(moment: dt.datetime) -> str:
    """An R4 instant: seconds at least, and a zone."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reference(resource_type: str, row: Model | None) -> dict[str, str] | None:
    """``{"reference": "Type/public id"}``, or None for no row."""
    if row is None:
        return None
    return {"reference": f"{resource_type}/{row.public_id}"}  # type: ignore[attr-defined]


# Characters no FHIR string holds (R4 2.24.0.1: ``[ \r\n\t\S]+``) and XHTML refuses: a form
# feed pasted from a pump's log, say. Free text people typed passes through ``typed_text``.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# The unit as people write it, where it differs from its UCUM code.
UNIT_WORDS = {"mm[Hg]": "mmHg", "Cel": "°C", "1": "score"}


def typed_text(value: str) -> str:
    """Free text as a person typed it, less the control characters FHIR strings forbid."""
    return _NOT_TEXT.sub(" ", value)


def pruned(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without empty elements: FHIR forbids empty strings, lists and objects.

    Every resource of a bulk export passes here, so values are told apart by their exact type
    (resources are built of plain dicts and lists) rather than compared with ``==``."""
    cleaned = _cleaned(resource)
    return cleaned if cleaned is not _EMPTY else {}


_EMPTY = object()


def _cleaned(value: Any) -> Any:
    """The value without its empty elements, or ``_EMPTY`` if nothing is left of it."""
    kind = type(value)
    if kind is dict:
        value = {key: kept for key, item in value.items() if (kept := _cleaned(item)) is not _EMPTY}
    elif kind is list:
        value = [kept for item in value if (kept := _cleaned(item)) is not _EMPTY]
    elif value is None or (kind is str and not value):
        return _EMPTY
    if (kind is dict or kind is list) and not value:
        return _EMPTY
    return value
