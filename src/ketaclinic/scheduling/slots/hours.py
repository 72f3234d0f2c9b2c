"""Open time, the part of the slot engine both finders share: who works at a location and when.

Weekly hours are wall-clock times in the location's time zone. Each day's window is turned into
an absolute (UTC) interval with ``zoneinfo`` for that very date, so a 9:00 opening is 9:00 local
on both sides of a daylight-saving change, and a window spanning the change is as long as the
clock says it is (one hour shorter in March, one hour longer in November). Open time is weekly
hours + extra hours here - time off (here or everywhere); busy time is kept as ``Busy`` blocks.

Separate from the finders (``free.py`` for single appointments, ``series.py`` for induction
series) so both read hours, exceptions and waitlist holds with the same queries and rules.
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from ketaclinic.clinics.models import Location
from ketaclinic.scheduling.models import (
    AvailabilityException,
    BookingPolicy,
    ExceptionKind,
    OfferStatus,
    WaitlistOffer,
    WeeklyAvailability,
)

UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]
# Busy time is read a day beyond the range on each side; rows outside the range block nothing.
BUSY_MARGIN = dt.timedelta(days=1)


def policy_for(clinic_id: int) -> BookingPolicy:
    """The clinic's policy, or the defaults (unsaved) if it never set one."""
    policy = BookingPolicy.objects.filter(clinic_id=clinic_id).first()
    return policy if policy is not None else BookingPolicy(clinic_id=clinic_id)


def local_day_bounds(location: Location, day: dt.date) -> Interval:
    tz = zoneinfo.ZoneInfo(location.time_zone)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(windows: list[Interval], holes: list[Interval]) -> list[Interval]:
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


class Busy:
    """Sorted busy blocks of one provider (or chair, or patient); overlap test by bisection."""

    def __init__(self, blocks: list[Interval]) -> None:
        self.blocks = merge(blocks)
        self.starts = [b[0] for b in self.blocks]

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        i = bisect.bisect_left(self.starts, end)
        # Only the block starting just before ``end`` can overlap, since blocks are merged.
        return i > 0 and self.blocks[i - 1][1] > start


@dataclass(frozen=True)
class ProviderHours:
    """The weekly hours and the exceptions of the providers who may work at a location."""

    rows: list[WeeklyAvailability]
    exceptions: list[AvailabilityException]
    # Everyone with weekly hours here or extra hours here in the range, by id.
    names: dict[int, str]


def provider_hours(
    *,
    location: Location,
    who: dict[str, Any],
    start: dt.datetime,
    end: dt.datetime,
    provider_id: int | None = None,
) -> ProviderHours:
    """Two queries: the weekly hours here of the providers ``who`` (lookups on ``provider__``)
    selects, then the exceptions from ``start`` to ``end`` of those providers plus the extra
    hours here of such providers who have no weekly hours (a one-off clinic day)."""
    weekly = WeeklyAvailability.objects.filter(location=location, **who).select_related("provider")
    if provider_id is not None:
        weekly = weekly.filter(provider_id=provider_id)
    rows = list(weekly)
    names = {row.provider_id: row.provider.display_name for row in rows}
    extra_here = Q(kind=ExceptionKind.EXTRA_HOURS, location=location, **who)
    exception_qs = AvailabilityException.objects.filter(
        Q(provider_id__in=list(names)) | extra_here, start__lt=end, end__gt=start
    ).select_related("provider")
    if provider_id is not None:
        exception_qs = exception_qs.filter(provider_id=provider_id)
    exceptions = list(exception_qs)
    for exc in exceptions:
        names.setdefault(exc.provider_id, exc.provider.display_name)
    return ProviderHours(rows=rows, exceptions=exceptions, names=names)


def open_windows(
    hours: ProviderHours, location: Location, day_from: dt.date, day_to: dt.date
) -> dict[int, list[Interval]]:
    """Each provider's open time on the local days ``day_from`` to ``day_to`` (inclusive), in
    start order: weekly hours on those dates plus extra hours here, minus time off here or at
    every location. Providers with no open time are left out."""
    tz = zoneinfo.ZoneInfo(location.time_zone)
    raw: dict[int, list[Interval]] = defaultdict(list)
    day = day_from
    while day <= day_to:
        for row in hours.rows:
            if day.weekday() == row.weekday:
                start = dt.datetime.combine(day, row.start_time, tzinfo=tz).astimezone(UTC)
                end = dt.datetime.combine(day, row.end_time, tzinfo=tz).astimezone(UTC)
                raw[row.provider_id].append((start, end))
        day += dt.timedelta(days=1)
    time_off: dict[int, list[Interval]] = defaultdict(list)
    for exc in hours.exceptions:
        if exc.kind == ExceptionKind.EXTRA_HOURS:
            if exc.location_id == location.pk:
                raw[exc.provider_id].append((exc.start, exc.end))
        elif exc.location_id in (None, location.pk):
            time_off[exc.provider_id].append((exc.start, exc.end))
    return {pid: subtract(merge(windows), merge(time_off[pid])) for pid, windows in raw.items()}


def offer_holds(
    provider_ids: list[int],
    *,
    now: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    ignore_offer_id: int | None = None,
) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(provider, start, block end) of the open waitlist offers near ``start``-``end``: a held
    slot is busy until the patient answers or the hold expires (one query)."""
    holds = WaitlistOffer.objects.filter(
        provider_id__in=provider_ids,
        status=OfferStatus.OPEN,
        expires_at__gt=now,
        start__lt=end + BUSY_MARGIN,
        block_end__gt=start - BUSY_MARGIN,
    )
    if ignore_offer_id is not None:
        holds = holds.exclude(pk=ignore_offer_id)
    return list(holds.values_list("provider_id", "start", "block_end"))
