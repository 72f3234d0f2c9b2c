"""The induction-series finder: chairs and nurses over the whole span of a series.

A series is N sessions on the calendar days its pattern gives, each needing an active chair at
the location and a nurse who works there and is open (weekly hours + extra hours - time off)
for the whole infusion plus recovery, while chair, nurse and patient are free. The same
wall-clock time every day is preferred (patients plan escorts around it); a series whose days
can only be filled at different times is proposed when no same-time series starts that day.

Separate from the single-slot finder (``free.py``): a series places a chair, a nurse and the
patient together, session after session, over one board loaded once.
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from ketaclinic.accounts.models import Role
from ketaclinic.clinics.models import Chair, Location, SeriesPattern
from ketaclinic.scheduling.models import Appointment, AppointmentStatus, BookingPolicy
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
        hours = provider_hours(
            location=location,
            who={
                "provider__role": Role.NURSE,
                "provider__clinic_id": location.clinic_id,
                "provider__is_active": True,
                "provider__locations": location,
            },
            start=span_start,
            end=span_end,
        )
        self.nurses: dict[int, str] = hours.names
        chair_ids = [c.pk for c in self.chairs]
        nurse_ids = list(self.nurses)

        busy_rows = (
            Appointment.objects.filter(
                Q(provider_id__in=nurse_ids) | Q(chair_id__in=chair_ids) | Q(patient_id=patient_id),
                start__lt=span_end + BUSY_MARGIN,
                block_end__gt=span_start - BUSY_MARGIN,
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
        for provider_id, start, block_end in offer_holds(
            nurse_ids, now=now, start=span_start, end=span_end
        ):
            nurse_busy[provider_id].append((start, block_end))
        self.nurse_busy = {pid: Busy(nurse_busy[pid]) for pid in nurse_ids}
        self.chair_busy = {cid: Busy(chair_busy[cid]) for cid in chair_ids}
        self.patient_busy = Busy(patient_busy)

        windows = open_windows(hours, location, day_from, day_to)
        self.open: dict[int, list[Interval]] = {pid: windows.get(pid, []) for pid in nurse_ids}
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

    def _placed_after(
        self, sessions: list[SeriesSession], day: dt.date, wall: dt.time
    ) -> SeriesSession | None:
        """``place`` for the next day of a series, clear of and handed over from ``sessions``."""
        return self.place(
            day,
            wall,
            taken=[(s.start, s.block_end) for s in sessions],
            prefer=sessions[-1] if sessions else None,
        )

    def same_time(self, dates: list[dt.date], wall: dt.time) -> SeriesProposal | None:
        sessions: list[SeriesSession] = []
        for day in dates:
            placed = self._placed_after(sessions, day, wall)
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
                placed = self._placed_after(sessions, day, wall)
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
