"""Free slots of single appointments: open time - busy time - lead time, on the type's grid.

Query budget: five queries whatever the number of providers, days or appointments (policy,
weekly hours with their providers, exceptions, appointments, waitlist holds).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from ketaclinic.clinics.models import Location
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingPolicy,
)
from ketaclinic.scheduling.slots.hours import (
    BUSY_MARGIN,
    UTC,
    Busy,
    Interval,
    local_day_bounds,
    offer_holds,
    open_windows,
    policy_for,
    provider_hours,
)


@dataclass(frozen=True)
class Slot:
    provider_id: int
    provider_name: str
    location_id: int
    start: dt.datetime
    end: dt.datetime
    block_end: dt.datetime

    @property
    def key(self) -> str:
        """What a form posts back: the provider and the start, never trusted (re-checked)."""
        return f"{self.provider_id}.{int(self.start.timestamp())}"


def parse_slot_key(value: str) -> tuple[int, dt.datetime] | None:
    """``None`` for anything that is not a well-formed key."""
    provider, sep, stamp = value.partition(".")
    if not sep or not provider.isdigit() or not stamp.isdigit() or len(stamp) > 12:
        return None
    try:
        return int(provider), dt.datetime.fromtimestamp(int(stamp), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def free_slots(
    *,
    location: Location,
    appointment_type: AppointmentType,
    day_from: dt.date,
    day_to: dt.date,
    now: dt.datetime | None = None,
    provider_id: int | None = None,
    policy: BookingPolicy | None = None,
    ignore_appointment_id: int | None = None,
    ignore_offer_id: int | None = None,
) -> list[Slot]:
    """Every free slot at ``location`` from ``day_from`` to ``day_to`` (local dates, inclusive),
    sorted by start then provider."""
    now = now or timezone.now()
    policy = policy or policy_for(location.clinic_id)
    range_start = local_day_bounds(location, day_from)[0]
    range_end = local_day_bounds(location, day_to)[1]
    earliest = now + dt.timedelta(hours=policy.lead_time_hours)
    latest = now + dt.timedelta(days=policy.horizon_days)
    range_start = max(range_start, earliest)
    range_end = min(range_end, latest)
    if range_start >= range_end:
        return []

    hours = provider_hours(
        location=location,
        who={
            "provider__clinic_id": location.clinic_id,
            "provider__is_active": True,
            "provider__role": appointment_type.provider_role,
        },
        start=range_start,
        end=range_end,
        provider_id=provider_id,
    )
    provider_ids = list(hours.names)
    if not provider_ids:
        return []

    appointments = Appointment.objects.filter(
        provider_id__in=provider_ids, start__lt=range_end + BUSY_MARGIN
    ).filter(block_end__gt=range_start - BUSY_MARGIN)
    appointments = appointments.exclude(status=AppointmentStatus.CANCELLED)
    if ignore_appointment_id is not None:
        appointments = appointments.exclude(pk=ignore_appointment_id)
    busy: dict[int, list[Interval]] = defaultdict(list)
    for pid, start, block_end in appointments.values_list("provider_id", "start", "block_end"):
        busy[pid].append((start, block_end))
    for pid, start, block_end in offer_holds(
        provider_ids, now=now, start=range_start, end=range_end, ignore_offer_id=ignore_offer_id
    ):
        busy[pid].append((start, block_end))

    duration = dt.timedelta(minutes=appointment_type.duration_min)
    buffer = dt.timedelta(minutes=appointment_type.buffer_min)
    step = duration + buffer
    slots: list[Slot] = []
    for pid, windows in open_windows(hours, location, day_from, day_to).items():
        blocked = Busy(busy[pid])
        for w_start, w_end in windows:
            start = w_start
            while start + duration <= w_end:
                if (
                    start >= range_start
                    and start < range_end
                    and not blocked.overlaps(start, start + step)
                ):
                    slots.append(
                        Slot(
                            provider_id=pid,
                            provider_name=hours.names[pid],
                            location_id=location.pk,
                            start=start,
                            end=start + duration,
                            block_end=start + step,
                        )
                    )
                start += step
    slots.sort(key=lambda s: (s.start, s.provider_id))
    return slots


def nearest_slots(slots: list[Slot], target: dt.datetime, n: int = 3) -> list[Slot]:
    return sorted(sorted(slots, key=lambda s: abs(s.start - target))[:n], key=lambda s: s.start)


def slots_by_day(slots: list[Slot], location: Location) -> list[tuple[dt.date, list[Slot]]]:
    tz = zoneinfo.ZoneInfo(location.time_zone)
    grouped: dict[dt.date, list[Slot]] = defaultdict(list)
    for slot in slots:
        grouped[slot.start.astimezone(tz).date()].append(slot)
    return sorted(grouped.items())
