"""The slot engine: free slots = weekly hours + extra hours - time off - busy time - lead time.

Weekly hours are wall-clock times in the location's time zone. Each day's window is turned into
an absolute (UTC) interval with ``zoneinfo`` for that very date, so a 9:00 opening is 9:00 local
on both sides of a daylight-saving change, and a window spanning the change is as long as the
clock says it is (one hour shorter in March, one hour longer in November).

Query budget: five queries whatever the number of providers, days or appointments (policy,
weekly hours with their providers, exceptions, appointments, waitlist holds).
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from ketaclinic.clinics.models import Location
from ketaclinic.scheduling.models import (
    AppointmentStatus,
    AppointmentType,
    AvailabilityException,
    BookingPolicy,
    ExceptionKind,
    OfferStatus,
    WaitlistOffer,
    WeeklyAvailability,
)

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]


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


def policy_for(clinic_id: int) -> BookingPolicy:
    """The clinic's policy, or the defaults (unsaved) if it never set one."""
    policy = BookingPolicy.objects.filter(clinic_id=clinic_id).first()
    return policy if policy is not None else BookingPolicy(clinic_id=clinic_id)


def local_day_bounds(location: Location, day: dt.date) -> Interval:
    tz = zoneinfo.ZoneInfo(location.time_zone)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(windows: list[Interval], holes: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    for start, end in windows:
        pieces = [(start, end)]
        for h_start, h_end in holes:
            next_pieces: list[Interval] = []
            for p_start, p_end in pieces:
                if h_end <= p_start or h_start >= p_end:
                    next_pieces.append((p_start, p_end))
                    continue
                if p_start < h_start:
                    next_pieces.append((p_start, h_start))
                if h_end < p_end:
                    next_pieces.append((h_end, p_end))
            pieces = next_pieces
        result.extend(pieces)
    return result


class _Busy:
    """Sorted busy blocks of one provider; overlap test by bisection."""

    def __init__(self, blocks: list[Interval]) -> None:
        self.blocks = _merge(blocks)
        self.starts = [b[0] for b in self.blocks]

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        i = bisect.bisect_left(self.starts, end)
        # Only the block starting just before ``end`` can overlap, since blocks are merged.
        return i > 0 and self.blocks[i - 1][1] > start


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
    from ketaclinic.scheduling.models import Appointment

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

    weekly = WeeklyAvailability.objects.filter(
        location=location,
        provider__clinic_id=location.clinic_id,
        provider__is_active=True,
        provider__role=appointment_type.provider_role,
    ).select_related("provider")
    if provider_id is not None:
        weekly = weekly.filter(provider_id=provider_id)
    rows = list(weekly)
    names = {row.provider_id: row.provider.display_name for row in rows}
    # Exceptions of the providers with weekly hours here, plus extra hours at this location of
    # providers who have none (a one-off clinic day): one query.
    extra_here = Q(
        kind=ExceptionKind.EXTRA_HOURS,
        location=location,
        provider__clinic_id=location.clinic_id,
        provider__is_active=True,
        provider__role=appointment_type.provider_role,
    )
    exception_qs = AvailabilityException.objects.filter(
        Q(provider_id__in=list(names)) | extra_here, start__lt=range_end, end__gt=range_start
    ).select_related("provider")
    if provider_id is not None:
        exception_qs = exception_qs.filter(provider_id=provider_id)
    exceptions = list(exception_qs)
    for exc in exceptions:
        names.setdefault(exc.provider_id, exc.provider.display_name)
    provider_ids = list(names)
    if not provider_ids:
        return []

    appointments = Appointment.objects.filter(
        provider_id__in=provider_ids, start__lt=range_end + dt.timedelta(days=1)
    ).filter(block_end__gt=range_start - dt.timedelta(days=1))
    appointments = appointments.exclude(status=AppointmentStatus.CANCELLED)
    if ignore_appointment_id is not None:
        appointments = appointments.exclude(pk=ignore_appointment_id)
    holds = WaitlistOffer.objects.filter(
        provider_id__in=provider_ids,
        status=OfferStatus.OPEN,
        expires_at__gt=now,
        start__lt=range_end + dt.timedelta(days=1),
        block_end__gt=range_start - dt.timedelta(days=1),
    )
    if ignore_offer_id is not None:
        holds = holds.exclude(pk=ignore_offer_id)

    busy: dict[int, list[Interval]] = defaultdict(list)
    for pid, start, block_end in appointments.values_list("provider_id", "start", "block_end"):
        busy[pid].append((start, block_end))
    for pid, start, block_end in holds.values_list("provider_id", "start", "block_end"):
        busy[pid].append((start, block_end))

    tz = zoneinfo.ZoneInfo(location.time_zone)
    days: list[dt.date] = []
    day = day_from
    while day <= day_to:
        days.append(day)
        day += dt.timedelta(days=1)

    windows: dict[int, list[Interval]] = defaultdict(list)
    for row in rows:
        for day in days:
            if day.weekday() == row.weekday:
                start = dt.datetime.combine(day, row.start_time, tzinfo=tz).astimezone(UTC)
                end = dt.datetime.combine(day, row.end_time, tzinfo=tz).astimezone(UTC)
                windows[row.provider_id].append((start, end))
    time_off: dict[int, list[Interval]] = defaultdict(list)
    for exc in exceptions:
        if exc.kind == ExceptionKind.EXTRA_HOURS:
            if exc.location_id == location.pk:
                windows[exc.provider_id].append((exc.start, exc.end))
        elif exc.location_id in (None, location.pk):
            time_off[exc.provider_id].append((exc.start, exc.end))

    duration = dt.timedelta(minutes=appointment_type.duration_min)
    buffer = dt.timedelta(minutes=appointment_type.buffer_min)
    step = duration + buffer
    slots: list[Slot] = []
    for pid, raw in windows.items():
        open_windows = _subtract(_merge(raw), _merge(time_off[pid]))
        blocked = _Busy(busy[pid])
        for w_start, w_end in open_windows:
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
                            provider_name=names[pid],
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
