"""Slot: the free times of a schedule, exactly as the booking pages compute them: the slot
engine's ``scheduling.api.free_slots`` (weekly and extra hours, less time off, bookings,
waitlist holds and the lead time, within the booking horizon) for each appointment type the
reader is shown (``schedule.bookable_types``: a patient, the online booking page's; staff, the
front desk's). Every Slot is free; a taken one is no longer there.

A search names its schedules (``schedule``) and a time range (``start`` with a lower bound, ge
or gt, and an upper one, lt or le, or one day with eq); without either it is refused with a 400
naming the parameter, as free times cannot be listed without them. The range is cut to the
booking horizon. A Slot's id is its start (UTC, to the second), its schedule and its
appointment type (both public UUIDs in base 62), so ids sort by start and a read computes that
day's free times again: the slot while it is still free, a 404 once it is not. The cost is
four queries for the clinic's schedules and four for each location and type asked for,
whatever the number of schedules there and of free times.

Readable like the directory: the clinic's staff and patients, within their own clinic. No
patient data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.http import FhirError
from ketaclinic.fhir.resources.base import Computed, ResourceType, instant, no_table, pruned
from ketaclinic.fhir.resources.schedule import (
    ScheduleRow,
    clinic_schedules,
    offers,
    service_type,
)
from ketaclinic.fhir.search import Param, date_range, token_code
from ketaclinic.scheduling.api import free_slots
from ketaclinic.scheduling.models import AppointmentType

# Slot.status's system (R4 slotstatus): a ``status`` search naming another finds none.
SLOT_STATUS = "http://hl7.org/fhir/slotstatus"

# Base 62 in ASCII order, so ids of fixed width sort as the numbers they write.
DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
UUID_WIDTH = 22  # 62**22 > 2**128
START_FORMAT = "%Y%m%dT%H%M%SZ"
_SLOT_ID = re.compile(r"(\d{8}T\d{6}Z)-([0-9A-Za-z]{22})-([0-9A-Za-z]{22})")


def _base62(key: uuid.UUID) -> str:
    number, digits = key.int, []
    for _ in range(UUID_WIDTH):
        number, digit = divmod(number, 62)
        digits.append(DIGITS[digit])
    return "".join(reversed(digits))


def _uuid(text: str) -> uuid.UUID | None:
    number = 0
    for char in text:
        number = number * 62 + DIGITS.index(char)
    return uuid.UUID(int=number) if number < 2**128 else None


@dataclass(frozen=True)
class FreeSlot:
    schedule: uuid.UUID
    type: AppointmentType
    start: dt.datetime
    end: dt.datetime

    @property
    def id(self) -> str:
        """``20250301T143000Z-<schedule>-<type>``: 62 characters, within R4's 64."""
        start = self.start.astimezone(dt.UTC).strftime(START_FORMAT)
        return f"{start}-{_base62(self.schedule)}-{_base62(self.type.public_id)}"


@dataclass(frozen=True)
class SlotId:
    start: dt.datetime
    schedule: uuid.UUID
    type: uuid.UUID


def parse_slot_id(value: str) -> SlotId | None:
    """What a Slot id names, or None for anything this server did not make."""
    found = _SLOT_ID.fullmatch(value)
    if found is None:
        return None
    try:
        start = dt.datetime.strptime(found[1], START_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    schedule, kind = _uuid(found[2]), _uuid(found[3])
    if schedule is None or kind is None:
        return None
    return SlotId(start=start, schedule=schedule, type=kind)


@dataclass(frozen=True)
class SlotQuery:
    """What a Slot search asks, filled in by its parameters (each occurrence narrows it)."""

    schedules: frozenset[uuid.UUID] | None = None
    low: dt.datetime | None = None
    high: dt.datetime | None = None
    # Each ``service-type`` occurrence: a type must match one of its values.
    types: tuple[tuple[str, ...], ...] = ()
    ids: frozenset[str] | None = None
    free: bool = True


def _narrowed(chosen: frozenset[Any] | None, given: set[Any] | frozenset[Any]) -> frozenset[Any]:
    return frozenset(given) if chosen is None else chosen & frozenset(given)


def _schedule(query: SlotQuery, given: list[str]) -> SlotQuery:
    keys: set[uuid.UUID] = set()
    for value in given:
        try:
            keys.add(uuid.UUID(value.rsplit("/", 1)[-1]))
        except ValueError:
            continue  # no such schedule: matches nothing
    return dataclasses.replace(query, schedules=_narrowed(query.schedules, keys))


def _start(query: SlotQuery, given: list[str]) -> SlotQuery:
    if len(given) != 1:
        raise FhirError(
            400,
            "start: one value a parameter; give a range as two, start=ge...&start=lt...",
            expression="start",
        )
    prefix, first, last = date_range("start", given[0])
    if prefix == "ne":
        raise FhirError(
            400,
            "start: the prefix ne is not supported for Slot.",
            code="not-supported",
            expression="start",
        )
    low = {"ge": first, "gt": last, "eq": first}.get(prefix)
    high = {"lt": first, "le": last, "eq": last}.get(prefix)
    if low is not None:
        query = dataclasses.replace(query, low=max(low, query.low or low))
    if high is not None:
        query = dataclasses.replace(query, high=min(high, query.high or high))
    return query


def _service_type(query: SlotQuery, given: list[str]) -> SlotQuery:
    return dataclasses.replace(query, types=(*query.types, tuple(given)))


def _status(query: SlotQuery, given: list[str]) -> SlotQuery:
    # Only free slots are served: asking for busy ones alone finds none.
    free = any(token_code(value, SLOT_STATUS) == "free" for value in given)
    return dataclasses.replace(query, free=query.free and free)


def _ids(query: SlotQuery, given: list[str]) -> SlotQuery:
    return dataclasses.replace(query, ids=_narrowed(query.ids, set(given)))


def _begin(reader: FhirReader) -> SlotQuery:
    return SlotQuery()


def _by_ids(query: SlotQuery) -> SlotQuery | None:
    """A search by ``_id`` (a read is one) needs no other parameter: the ids name their
    schedules and starts. None when no id is one this server makes."""
    named = [found for found in map(parse_slot_id, query.ids or ()) if found is not None]
    if not named:
        return None
    starts = [found.start for found in named]
    return dataclasses.replace(
        query,
        schedules=_narrowed(query.schedules, {found.schedule for found in named}),
        low=query.low or min(starts),
        high=query.high or max(starts) + dt.timedelta(seconds=1),
    )


def _free(reader: FhirReader, query: SlotQuery, after: str | None) -> list[FreeSlot]:
    if query.ids is not None:
        by_ids = _by_ids(query)
        if by_ids is None:
            return []
        query = by_ids
    if query.schedules is None:
        raise FhirError(
            400,
            "A Slot search needs schedule=Schedule/[id] (find them with Schedule?actor=...).",
            code="required",
            expression="schedule",
        )
    if query.low is None or query.high is None:
        raise FhirError(
            400,
            "A Slot search needs a time range: start=ge[date] and start=lt[date] (or start=[day]).",
            code="required",
            expression="start",
        )
    if not query.free or not query.schedules:
        return []
    found = clinic_schedules(reader)
    # Nothing is free before now or beyond the booking horizon: the days asked of the slot
    # engine stay within them however wide the range.
    low = max(query.low, found.now)
    high = min(query.high, found.now + dt.timedelta(days=found.policy.horizon_days))
    last = parse_slot_id(after) if after is not None else None
    if last is not None:
        low = max(low, last.start)  # the page before ended there
    if low >= high:
        return []
    wanted: dict[int, list[ScheduleRow]] = defaultdict(list)
    for row in found.rows:
        if row.id in query.schedules:
            wanted[row.location.pk].append(row)
    slots: list[FreeSlot] = []
    for rows in wanted.values():
        location = rows[0].location
        zone = zoneinfo.ZoneInfo(location.time_zone)
        for kind in found.types:
            if not all(any(offers(kind, value) for value in each) for each in query.types):
                continue
            by_provider = {
                row.provider.pk: row.id for row in rows if row.provider.role == kind.provider_role
            }
            if not by_provider:
                continue
            # The booking pages' own computation, for the whole location at once (so the cost
            # does not grow with the schedules asked for), then kept to the schedules asked.
            for slot in free_slots(
                location=location,
                appointment_type=kind,
                day_from=low.astimezone(zone).date(),
                day_to=(high - dt.timedelta(microseconds=1)).astimezone(zone).date(),
                now=found.now,
                policy=found.policy,
            ):
                if slot.provider_id in by_provider and low <= slot.start < high:
                    slots.append(
                        FreeSlot(
                            schedule=by_provider[slot.provider_id],
                            type=kind,
                            start=slot.start,
                            end=slot.end,
                        )
                    )
    if query.ids is not None:
        slots = [slot for slot in slots if slot.id in query.ids]
    return slots


def slot(row: FreeSlot) -> dict[str, Any]:
    return pruned(
        {
            "resourceType": "Slot",
            "id": row.id,
            "serviceType": [service_type(row.type)],
            "schedule": {"reference": f"Schedule/{row.schedule}"},
            "status": "free",
            "start": instant(row.start),
            "end": instant(row.end),
        }
    )


SLOT = ResourceType(
    name="Slot",
    rows=no_table,
    to_fhir=slot,
    params={
        "_id": Param("token", _ids, "The slot's id."),
        "schedule": Param("reference", _schedule, "Schedule/[id]: required.", ("Schedule",)),
        "start": Param(
            "date",
            _start,
            "When it starts: required, as a range (ge or gt and lt or le, or eq a day), cut to"
            " the booking horizon.",
        ),
        "service-type": Param(
            "token",
            _service_type,
            "The appointment kind (consultation, follow_up) or type (its id, as the service"
            " type's coding gives it).",
        ),
        "status": Param("token", _status, "free (every slot served is free)."),
    },
    computed=Computed(
        start=_begin,
        rows=_free,
        id_of=lambda row: row.id,
        is_id=lambda value: parse_slot_id(value) is not None,
    ),
    doc=(
        "The free times of a schedule, as the booking pages compute them, for the appointment"
        " types the reader may book; a search needs schedule and a start range."
    ),
)
