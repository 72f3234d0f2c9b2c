"""Schedule: one provider's bookable time at one of the clinic's sites, as the slot engine sees
it (``scheduling.slots``): every (provider, location) pair with weekly hours there, or with
extra hours there still to come. Its actors are the Practitioner and the Location; its service
types the appointment types whose free times the reader is shown (a patient: the online booking
page's consultation; staff and backend systems: what the front desk books one at a time); its
planning horizon the clinic's booking window (lead time to horizon, ``BookingPolicy``).

Why a pair, and why no table: a Slot names its Schedule and nothing else, so only a schedule
per location says where a free time is; and a pair has no row of its own (its weekly hours are
many rows, its extra hours others), so its id is derived, not stored: the name-based UUID
(RFC 4122 version 5) of the provider's and the location's public ids. It stays the same while
both exist, names no database id, and a read finds it by computing the clinic's pairs again
(``Computed``). Four queries a search, however many schedules.

Readable like the directory: the clinic's staff and its patients (the booking pages show them
the free times), within their own clinic (another clinic's schedule is a 404). No patient data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.clinics.models import Location
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import Computed, ResourceType, instant, no_table, pruned
from ketaclinic.fhir.search import Param, listed, token_code
from ketaclinic.scheduling.api import consultation_type, desk_bookable_types, policy_for
from ketaclinic.scheduling.models import (
    AppointmentKind,
    AppointmentType,
    AvailabilityException,
    BookingPolicy,
    ExceptionKind,
    Weekday,
    WeeklyAvailability,
)

SCHEDULE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ketaclinic.org/fhir/Schedule")
KIND_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/appointment-kind"
TYPE_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/appointment-type"


def schedule_id(provider: User, location: Location) -> uuid.UUID:
    """The id of a provider's schedule at a location (see the module's docstring)."""
    return uuid.uuid5(SCHEDULE_NAMESPACE, f"{provider.public_id}/{location.public_id}")


def service_type(kind: AppointmentType) -> dict[str, Any]:
    """An appointment type as a service type: its kind, and the type itself by public id."""
    return {
        "coding": [
            {
                "system": KIND_SYSTEM,
                "code": kind.kind,
                "display": str(AppointmentKind(kind.kind).label),
            },
            {"system": TYPE_SYSTEM, "code": str(kind.public_id), "display": kind.name},
        ],
        "text": kind.name,
    }


def offers(kind: AppointmentType, value: str) -> bool:
    """Whether a ``service-type`` token names the type (its kind, or its public id)."""
    for system in (KIND_SYSTEM, TYPE_SYSTEM):
        code = token_code(value, system)
        if code is not None and code in (kind.kind, str(kind.public_id)):
            return True
    return False


def bookable_types(reader: FhirReader) -> list[AppointmentType]:
    """The appointment types whose free times the reader is shown, as the pages show them: a
    patient, the online booking page's consultation; staff and backend systems, the types the
    front desk books one at a time (chair-held infusions are booked as series elsewhere)."""
    user = reader.user
    if user is not None and user.is_patient:
        online = consultation_type(reader.clinic_id, online=True)
        return [online] if online is not None else []
    return desk_bookable_types(reader.clinic_id)


@dataclass(frozen=True)
class ScheduleRow:
    """One provider's schedule at one location: its weekly hours (none for a pair that only has
    extra hours) and the appointment types the reader may book on it."""

    id: uuid.UUID
    provider: User
    location: Location
    weekly: tuple[WeeklyAvailability, ...]
    types: tuple[AppointmentType, ...]
    horizon: tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Schedules:
    """The clinic's schedules, its booking policy and the types the reader may book."""

    rows: list[ScheduleRow]
    policy: BookingPolicy
    types: list[AppointmentType]
    now: dt.datetime


def clinic_schedules(reader: FhirReader, now: dt.datetime | None = None) -> Schedules:
    """Every schedule of the reader's clinic: four queries (weekly hours, extra hours still to
    come, the booking policy, the bookable types), however many there are."""
    now = now or timezone.now()
    ours = {"location__clinic_id": reader.clinic_id, "provider__clinic_id": reader.clinic_id}
    pairs: dict[tuple[int, int], tuple[User, Location]] = {}
    weekly: dict[tuple[int, int], list[WeeklyAvailability]] = defaultdict(list)
    for row in WeeklyAvailability.objects.filter(**ours).select_related("provider", "location"):
        key = (row.provider_id, row.location_id)
        pairs.setdefault(key, (row.provider, row.location))
        weekly[key].append(row)
    extra = AvailabilityException.objects.filter(
        kind=ExceptionKind.EXTRA_HOURS, end__gt=now, **ours
    ).select_related("provider", "location")
    for exc in extra:
        site = exc.location
        assert site is not None  # extra hours always name one (a check constraint)
        pairs.setdefault((exc.provider_id, site.pk), (exc.provider, site))
    policy = policy_for(reader.clinic_id)
    types = bookable_types(reader)
    horizon = (
        now + dt.timedelta(hours=policy.lead_time_hours),
        now + dt.timedelta(days=policy.horizon_days),
    )
    rows = [
        ScheduleRow(
            id=schedule_id(provider, location),
            provider=provider,
            location=location,
            weekly=tuple(sorted(weekly[key], key=lambda w: (w.weekday, w.start_time))),
            types=tuple(t for t in types if t.provider_role == provider.role),
            horizon=horizon,
        )
        for key, (provider, location) in pairs.items()
    ]
    return Schedules(rows=rows, policy=policy, types=types, now=now)


def _hours(row: ScheduleRow) -> str:
    if not row.weekly:
        return "No weekly hours here; extra hours only."
    days = "; ".join(
        f"{Weekday(w.weekday).label} {w.start_time:%H:%M}-{w.end_time:%H:%M}" for w in row.weekly
    )
    return f"Weekly hours ({row.location.time_zone}): {days}."


def schedule(row: ScheduleRow) -> dict[str, Any]:
    return pruned(
        {
            "resourceType": "Schedule",
            "id": str(row.id),
            "active": row.provider.is_active,
            "serviceType": [service_type(kind) for kind in row.types],
            "actor": [
                {
                    "reference": f"Practitioner/{row.provider.public_id}",
                    "display": row.provider.display_name,
                },
                {"reference": f"Location/{row.location.public_id}", "display": row.location.name},
            ],
            "planningHorizon": {"start": instant(row.horizon[0]), "end": instant(row.horizon[1])},
            "comment": _hours(row),
        }
    )


def _start(reader: FhirReader) -> list[ScheduleRow]:
    return clinic_schedules(reader).rows


def _rows(reader: FhirReader, narrowed: list[ScheduleRow], after: str | None) -> list[ScheduleRow]:
    return narrowed


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _id_is(row: ScheduleRow, value: str) -> bool:
    return str(row.id) == value.lower()


def _actor_is(row: ScheduleRow, value: str) -> bool:
    # "Practitioner/[id]", "Location/[id]", a full url ending so, or a bare id (either actor).
    parts = value.rsplit("/", 2)[-2:]
    key = parts[-1].lower()
    kind = parts[0] if len(parts) == 2 else ""
    practitioner = kind in ("", "Practitioner") and key == str(row.provider.public_id)
    location = kind in ("", "Location") and key == str(row.location.public_id)
    return practitioner or location


def _active_is(row: ScheduleRow, value: str) -> bool:
    # A boolean has no system: "x|true" names another code than true ("|true" is no system).
    system, _, code = value.rpartition("|")
    return not system and {"true": True, "false": False}.get(code) == row.provider.is_active


SCHEDULE = ResourceType(
    name="Schedule",
    rows=no_table,
    to_fhir=schedule,
    params={
        "_id": Param("token", listed(_id_is), "The schedule's id."),
        "actor": Param(
            "reference",
            listed(_actor_is),
            "Practitioner/[id] or Location/[id] (either actor).",
            ("Practitioner", "Location"),
        ),
        "active": Param("token", listed(_active_is), "true|false (whether the provider is)."),
    },
    computed=Computed(start=_start, rows=_rows, id_of=lambda row: str(row.id), is_id=_is_uuid),
    doc=(
        "Each provider's bookable time at each site (one schedule per provider and location),"
        " with the appointment types the reader may book there."
    ),
)
