"""The slot engine: free slots = weekly hours + extra hours - time off - busy time - lead time.

Weekly hours are wall-clock times in the location's time zone. Each day's window is turned into
an absolute (UTC) interval with ``zoneinfo`` for that very date, so a 9:00 opening is 9:00 local
on both sides of a daylight-saving change, and a window spanning the change is as long as the
clock says it is (one hour shorter in March, one hour longer in November).

Query budget: five queries whatever the number of providers, days or appointments (policy,
weekly hours with their providers, exceptions, appointments, waitlist holds).

The induction-series finder (``series_find``, ``SeriesBoard``) at the end uses the same pieces
for chairs and nurses over the whole span of a series.
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

from ketaclinic.clinics.models import Location, SeriesPattern
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


# --- induction series ---------------------------------------------------------------------------
#
# A series is N sessions on the calendar days its pattern gives, each needing an active chair at
# the location and a nurse who works there and is open (weekly hours + extra hours - time off)
# for the whole infusion plus recovery, while chair, nurse and patient are free. The same
# wall-clock time every day is preferred (patients plan escorts around it); a series whose days
# can only be filled at different times is proposed when no same-time series starts that day.

SERIES_STEP_MIN = 15
PATTERN_WEEKDAYS: dict[str, frozenset[int]] = {
    SeriesPattern.WEEKDAYS: frozenset(range(5)),
    SeriesPattern.DAILY: frozenset(range(7)),
    SeriesPattern.THREE_PER_WEEK: frozenset({0, 2, 4}),
}


def series_dates(first: dt.date, pattern: str, count: int) -> list[dt.date]:
    """The local dates of a series starting on ``first``: the next ``count`` days the pattern
    allows (weekdays skip weekends; three a week is Monday, Wednesday, Friday)."""
    days = PATTERN_WEEKDAYS.get(pattern)
    if days is None:
        raise ValueError(f"pattern: unknown series pattern {pattern!r}")
    if count < 1:
        raise ValueError("count: a series has at least one session")
    if first.weekday() not in days:
        raise ValueError(f"first: {first:%A} is not a day of the {pattern!r} pattern")
    dates: list[dt.date] = []
    day = first
    while len(dates) < count:
        if day.weekday() in days:
            dates.append(day)
        day += dt.timedelta(days=1)
    return dates


@dataclass(frozen=True)
class SeriesSession:
    start: dt.datetime
    end: dt.datetime
    # end + recovery: the chair (and the nurse watching the recovery) stay busy until then.
    block_end: dt.datetime
    chair_id: int
    chair_name: str
    nurse_id: int
    nurse_name: str

    @property
    def key(self) -> str:
        """What the booking form posts back: chair, nurse and start, all re-checked on booking."""
        return f"{self.chair_id}.{self.nurse_id}.{int(self.start.timestamp())}"


def parse_session_key(value: str) -> tuple[int, int, dt.datetime] | None:
    """``None`` for anything that is not a well-formed session key."""
    parts = value.split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 12 for p in parts):
        return None
    try:
        return int(parts[0]), int(parts[1]), dt.datetime.fromtimestamp(int(parts[2]), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class SeriesProposal:
    sessions: tuple[SeriesSession, ...]
    # True when every session starts at the same local wall-clock time.
    same_time: bool

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.sessions]


class SeriesBoard:
    """Everything a series check needs at one location over a span of local days, loaded in six
    queries whatever the number of chairs, nurses, days or appointments: the booking policy, the
    active chairs, the nurses' weekly hours, their exceptions, the busy time of those chairs,
    nurses and the patient, and the nurses' waitlist holds."""

    def __init__(
        self,
        *,
        location: Location,
        patient_id: int,
        day_from: dt.date,
        day_to: dt.date,
        duration_min: int,
        recovery_min: int,
        now: dt.datetime,
        policy: BookingPolicy | None = None,
    ) -> None:
        from ketaclinic.accounts.models import Role
        from ketaclinic.clinics.models import Chair
        from ketaclinic.scheduling.models import Appointment

        self.location = location
        self.tz = zoneinfo.ZoneInfo(location.time_zone)
        self.duration = dt.timedelta(minutes=duration_min)
        self.block = self.duration + dt.timedelta(minutes=recovery_min)
        self.policy = policy or policy_for(location.clinic_id)
        self.now = now
        self.earliest = now + dt.timedelta(hours=self.policy.lead_time_hours)
        span_start = local_day_bounds(location, day_from)[0]
        span_end = local_day_bounds(location, day_to)[1]

        self.chairs = list(Chair.objects.filter(location=location, is_active=True))
        nurse_filter = {
            "provider__role": Role.NURSE,
            "provider__clinic_id": location.clinic_id,
            "provider__is_active": True,
            "provider__locations": location,
        }
        rows = list(
            WeeklyAvailability.objects.filter(location=location, **nurse_filter).select_related(
                "provider"
            )
        )
        self.nurses: dict[int, str] = {row.provider_id: row.provider.display_name for row in rows}
        extra_here = Q(kind=ExceptionKind.EXTRA_HOURS, location=location, **nurse_filter)
        exceptions = list(
            AvailabilityException.objects.filter(
                Q(provider_id__in=list(self.nurses)) | extra_here,
                start__lt=span_end,
                end__gt=span_start,
            ).select_related("provider")
        )
        for exc in exceptions:
            self.nurses.setdefault(exc.provider_id, exc.provider.display_name)
        chair_ids = [c.pk for c in self.chairs]
        nurse_ids = list(self.nurses)

        margin = dt.timedelta(days=1)
        busy_rows = (
            Appointment.objects.filter(
                Q(provider_id__in=nurse_ids) | Q(chair_id__in=chair_ids) | Q(patient_id=patient_id),
                start__lt=span_end + margin,
                block_end__gt=span_start - margin,
            )
            .exclude(status=AppointmentStatus.CANCELLED)
            .values_list("provider_id", "chair_id", "patient_id", "start", "end", "block_end")
        )
        nurse_busy: dict[int, list[Interval]] = defaultdict(list)
        chair_busy: dict[int, list[Interval]] = defaultdict(list)
        patient_busy: list[Interval] = []
        for provider_id, chair_id, busy_patient_id, start, end, block_end in busy_rows:
            nurse_busy[provider_id].append((start, block_end))
            if chair_id is not None:
                chair_busy[chair_id].append((start, block_end))
            if busy_patient_id == patient_id:
                # A patient is busy for their own visit, and in the chair until recovered.
                patient_busy.append((start, block_end if chair_id is not None else end))
        holds = WaitlistOffer.objects.filter(
            provider_id__in=nurse_ids,
            status=OfferStatus.OPEN,
            expires_at__gt=now,
            start__lt=span_end + margin,
            block_end__gt=span_start - margin,
        ).values_list("provider_id", "start", "block_end")
        for provider_id, start, block_end in holds:
            nurse_busy[provider_id].append((start, block_end))
        self.nurse_busy = {pid: _Busy(nurse_busy[pid]) for pid in nurse_ids}
        self.chair_busy = {cid: _Busy(chair_busy[cid]) for cid in chair_ids}
        self.patient_busy = _Busy(patient_busy)

        raw: dict[int, list[Interval]] = defaultdict(list)
        day = day_from
        while day <= day_to:
            for row in rows:
                if day.weekday() == row.weekday:
                    raw[row.provider_id].append(
                        (
                            dt.datetime.combine(day, row.start_time, tzinfo=self.tz).astimezone(
                                UTC
                            ),
                            dt.datetime.combine(day, row.end_time, tzinfo=self.tz).astimezone(UTC),
                        )
                    )
            day += dt.timedelta(days=1)
        time_off: dict[int, list[Interval]] = defaultdict(list)
        for exc in exceptions:
            if exc.kind == ExceptionKind.EXTRA_HOURS:
                if exc.location_id == location.pk:
                    raw[exc.provider_id].append((exc.start, exc.end))
            elif exc.location_id in (None, location.pk):
                time_off[exc.provider_id].append((exc.start, exc.end))
        self.open: dict[int, list[Interval]] = {
            pid: _subtract(_merge(raw[pid]), _merge(time_off[pid])) for pid in nurse_ids
        }
        for windows in self.open.values():
            windows.sort()
        self._times: dict[tuple[dt.date, dt.time | None], list[dt.time]] = {}

    # -- the pieces ------------------------------------------------------------------------------

    def local_start(self, day: dt.date, wall: dt.time) -> dt.datetime | None:
        """The instant ``wall`` o'clock on ``day`` here, or None if the clock skips it (DST)."""
        start = dt.datetime.combine(day, wall, tzinfo=self.tz).astimezone(UTC)
        local = start.astimezone(self.tz)
        if (local.date(), local.time()) != (day, wall):
            return None
        return start

    def nurse_open(self, nurse_id: int, start: dt.datetime, end: dt.datetime) -> bool:
        windows = self.open.get(nurse_id, [])
        i = bisect.bisect_right(windows, (start, dt.datetime.max.replace(tzinfo=UTC)))
        return i > 0 and windows[i - 1][0] <= start and windows[i - 1][1] >= end

    def candidate_times(self, day: dt.date, time_from: dt.time | None = None) -> list[dt.time]:
        """Wall-clock times on a 15-minute grid at which some nurse is open for a whole session."""
        cache_key = (day, time_from)
        if cache_key not in self._times:
            times: list[dt.time] = []
            for minute in range(0, 24 * 60, SERIES_STEP_MIN):
                t = dt.time(minute // 60, minute % 60)
                start = self.local_start(day, t)
                if (
                    (time_from is None or t >= time_from)
                    and start is not None
                    and start >= self.earliest
                    and any(self.nurse_open(n, start, start + self.block) for n in self.nurses)
                ):
                    times.append(t)
            self._times[cache_key] = times
        return self._times[cache_key]

    def refusal(
        self,
        *,
        chair_id: int,
        nurse_id: int,
        start: dt.datetime,
        taken: list[Interval],
    ) -> str | None:
        """Why this chair and nurse cannot take a session at ``start`` (None if they can)."""
        block_end = start + self.block
        if start < self.earliest:
            return "is too soon or already past"
        if chair_id not in self.chair_busy:
            return "names a chair that is not in use at this location"
        if nurse_id not in self.nurse_busy:
            return "names a nurse who does not work at this location"
        if not self.nurse_open(nurse_id, start, block_end):
            return f"falls outside {self.nurses[nurse_id]}'s hours"
        if self.patient_busy.overlaps(start, block_end) or any(
            s < block_end and start < e for s, e in taken
        ):
            return "overlaps another appointment of the patient"
        if self.chair_busy[chair_id].overlaps(start, block_end):
            return "needs a chair that is already taken"
        if self.nurse_busy[nurse_id].overlaps(start, block_end):
            return f"needs {self.nurses[nurse_id]}, who is already busy"
        return None

    def session(self, *, chair_id: int, nurse_id: int, start: dt.datetime) -> SeriesSession:
        names = {c.pk: c.name for c in self.chairs}
        return SeriesSession(
            start=start,
            end=start + self.duration,
            block_end=start + self.block,
            chair_id=chair_id,
            chair_name=names.get(chair_id, ""),
            nurse_id=nurse_id,
            nurse_name=self.nurses.get(nurse_id, ""),
        )

    def place(
        self,
        day: dt.date,
        wall: dt.time,
        *,
        taken: list[Interval],
        prefer: SeriesSession | None = None,
    ) -> SeriesSession | None:
        """A free chair and nurse for a session at ``wall`` on ``day``, keeping the previous
        session's chair and nurse when they are free (fewer hand-overs for the patient)."""
        start = self.local_start(day, wall)
        if start is None:
            return None
        chairs = [c.pk for c in self.chairs]
        nurses = sorted(self.nurses, key=lambda n: (self.nurses[n], n))
        if prefer is not None:
            chairs.sort(key=lambda c: c != prefer.chair_id)
            nurses.sort(key=lambda n: n != prefer.nurse_id)
        for nurse_id in nurses:
            for chair_id in chairs:
                if self.refusal(chair_id=chair_id, nurse_id=nurse_id, start=start, taken=taken):
                    continue
                return self.session(chair_id=chair_id, nurse_id=nurse_id, start=start)
        return None

    # -- whole series ----------------------------------------------------------------------------

    def same_time(self, dates: list[dt.date], wall: dt.time) -> SeriesProposal | None:
        sessions: list[SeriesSession] = []
        for day in dates:
            placed = self.place(
                day,
                wall,
                taken=[(s.start, s.block_end) for s in sessions],
                prefer=sessions[-1] if sessions else None,
            )
            if placed is None:
                return None
            sessions.append(placed)
        return SeriesProposal(sessions=tuple(sessions), same_time=True)

    def mixed_times(self, dates: list[dt.date], time_from: dt.time | None) -> SeriesProposal | None:
        """Each day at the free time nearest the first session's time."""
        sessions: list[SeriesSession] = []
        anchor: int | None = None
        for day in dates:
            times = self.candidate_times(day, time_from)
            if anchor is not None:
                target = anchor
                times = sorted(times, key=lambda t: abs(t.hour * 60 + t.minute - target))
            placed = None
            for wall in times:
                placed = self.place(
                    day,
                    wall,
                    taken=[(s.start, s.block_end) for s in sessions],
                    prefer=sessions[-1] if sessions else None,
                )
                if placed is not None:
                    break
            if placed is None:
                return None
            if anchor is None:
                local = placed.start.astimezone(self.tz)
                anchor = local.hour * 60 + local.minute
            sessions.append(placed)
        return SeriesProposal(sessions=tuple(sessions), same_time=False)


def series_span_days(pattern: str, count: int) -> int:
    """An upper bound on the calendar days a series of ``count`` sessions spans."""
    per_week = len(PATTERN_WEEKDAYS.get(pattern, frozenset(range(7))))
    return (count // per_week + 1) * 7


def series_find(
    *,
    patient_id: int,
    location: Location,
    duration_min: int,
    recovery_min: int,
    sessions_count: int,
    pattern: str,
    day_from: dt.date,
    time_from: dt.time | None = None,
    now: dt.datetime | None = None,
    policy: BookingPolicy | None = None,
) -> SeriesProposal | None:
    """The first feasible series starting on or after ``day_from`` (a local date), within the
    clinic's booking horizon for its first session; None when there is none."""
    now = now or timezone.now()
    policy = policy or policy_for(location.clinic_id)
    allowed = PATTERN_WEEKDAYS.get(pattern)
    if allowed is None:
        raise ValueError(f"pattern: unknown series pattern {pattern!r}")
    tz = zoneinfo.ZoneInfo(location.time_zone)
    earliest = now + dt.timedelta(hours=policy.lead_time_hours)
    first_day = max(day_from, earliest.astimezone(tz).date())
    last_first = (now + dt.timedelta(days=policy.horizon_days)).astimezone(tz).date()
    if first_day > last_first:
        return None
    board = SeriesBoard(
        location=location,
        patient_id=patient_id,
        day_from=first_day,
        day_to=last_first + dt.timedelta(days=series_span_days(pattern, sessions_count)),
        duration_min=duration_min,
        recovery_min=recovery_min,
        now=now,
        policy=policy,
    )
    if not board.chairs or not board.nurses:
        return None
    day = first_day
    while day <= last_first:
        if day.weekday() in allowed:
            dates = series_dates(day, pattern, sessions_count)
            for wall in board.candidate_times(day, time_from):
                proposal = board.same_time(dates, wall)
                if proposal is not None:
                    return proposal
            proposal = board.mixed_times(dates, time_from)
            if proposal is not None:
                return proposal
        day += dt.timedelta(days=1)
    return None
