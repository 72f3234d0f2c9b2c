"""What a resource type of the API is: who may see which rows, how a row becomes a resource,
its search parameters, and whose record a row is (for the audit trail)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.search import Param, dates, ids
from ketaclinic.patients.models import Patient


@dataclass(frozen=True)
class ResourceType:
    """One FHIR resource type the API serves.

    ``rows`` is every row the reader may see (the web app's own rule), with what ``to_fhir``
    reads joined, so a page of 100 costs the queries of a page of 10. ``patient_of`` names the
    patient a row belongs to, for the read events; None for directory types, whose reads carry
    no patient data.
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
    all_params: Mapping[str, Param] = field(init=False)

    def __post_init__(self) -> None:
        common = {"_id": Param("token", ids("public_id"), "The resource's id.")}
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


def instant(moment: dt.datetime) -> str:
    """An R4 instant: seconds at least, and a zone."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reference(resource_type: str, row: Model | None) -> dict[str, str] | None:
    """``{"reference": "Type/public id"}``, or None for no row."""
    if row is None:
        return None
    return {"reference": f"{resource_type}/{row.public_id}"}  # type: ignore[attr-defined]


def pruned(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without empty elements: FHIR forbids empty strings, lists and objects."""
    clean: dict[str, Any] = {}
    for key, value in resource.items():
        if isinstance(value, dict):
            value = pruned(value)
        elif isinstance(value, list):
            value = [pruned(v) if isinstance(v, dict) else v for v in value]
            value = [v for v in value if v not in ("", None, {}, [])]
        if value in ("", None, {}, []):
            continue
        clean[key] = value
    return clean
