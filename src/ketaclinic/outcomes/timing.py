"""Days and times in the patient's own time zone: "today" for the diary, and when the next
reminder is due. Wall-clock times are turned into instants here and nowhere else, so daylight
saving changes are handled once (a reminder at 19:00 stays at 19:00 local time)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils import timezone

from ketaclinic.clinics.models import Location
from ketaclinic.patients.models import Patient

# How far ahead to look for the next reminder day: a weekly PEG is always within 7 days.
_SEARCH_DAYS = 8


def patient_zone(patient: Patient) -> zoneinfo.ZoneInfo:
    """The patient's home location's zone, else the clinic's first location's, else the site's.

    Loads ``home_location`` if the caller did not select it (one query at most); a patient
    without a home location costs one more query for the clinic's first location.
    """
    location = patient.home_location
    if location is not None:
        return zoneinfo.ZoneInfo(location.time_zone)
    name = (
        Location.objects.filter(clinic_id=patient.clinic_id)
        .order_by("pk")
        .values_list("time_zone", flat=True)
        .first()
    )
    return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)


def local_today(zone: zoneinfo.ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(zone).date()


def local_date_of(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def due_instruments(
    *, daily_nrs: bool, weekly_peg: bool, peg_weekday: int, day: dt.date
) -> list[str]:
    """The diary instruments a reminder on ``day`` asks for (NRS daily, PEG on its weekday)."""
    kinds = []
    if daily_nrs:
        kinds.append("nrs")
    if weekly_peg and day.weekday() == peg_weekday:
        kinds.append("peg")
    return kinds


def at_local_time(day: dt.date, time_of_day: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """``time_of_day`` on ``day`` in ``zone`` as an aware instant.

    On the night clocks go forward a time that does not exist (02:30) is read with the offset
    before the change, i.e. one hour later on the wall clock; on the night they go back the
    first of the two 01:30s is taken (fold=0). Either way exactly one reminder that day.
    """
    naive = dt.datetime.combine(day, time_of_day)
    # Round-tripping through UTC normalises a non-existent local time.
    return naive.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone)


def next_reminder_at(
    *,
    enabled: bool,
    time_of_day: dt.time,
    daily_nrs: bool,
    weekly_peg: bool,
    peg_weekday: int,
    paused_until: dt.date | None,
    zone: zoneinfo.ZoneInfo,
    after: dt.datetime,
) -> dt.datetime | None:
    """The first reminder instant strictly after ``after`` on a day that asks for something and
    is not paused; None when reminders are off or ask for nothing."""
    if not enabled or not (daily_nrs or weekly_peg):
        return None
    day = after.astimezone(zone).date()
    if paused_until is not None and day <= paused_until:
        day = paused_until + dt.timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        candidate_day = day + dt.timedelta(days=offset)
        kinds = due_instruments(
            daily_nrs=daily_nrs, weekly_peg=weekly_peg, peg_weekday=peg_weekday, day=candidate_day
        )
        if not kinds:
            continue
        moment = at_local_time(candidate_day, time_of_day, zone)
        if moment > after:
            return moment
    return None  # pragma: no cover  (a weekday always recurs within the search window)
