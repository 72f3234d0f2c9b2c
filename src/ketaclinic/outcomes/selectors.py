"""The patient's diary and infusion series as all four features read them: the diary pages
(``diary``), the stored series results (``durability``), the booster check (``boosters``) and the
progress letter (``letters``); ``plans`` reads the series too.

A chart page costs a fixed number of queries whatever the length of the diary: the entries (one
query), the infusion appointments (one), the intake NRS (one), the reminder schedule (one), the
time zone (none, or one without a home location) and, on a page, the audit event. Nothing here
writes an audit event: ``diary_unaudited`` serves system work that audits its own result, and the
pages read through ``diary.selectors``, which audits every read in the same transaction.

Clinical arithmetic (baseline, response class, durability) comes from
``ketaclinic.clinical.outcomes`` only; this module gathers the inputs and lays out the results.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.db.models.functions import Coalesce

from ketaclinic.assessments.models import Consultation
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.infusions.models import SessionStatus
from ketaclinic.outcomes import timing
from ketaclinic.outcomes.models import DiaryEntry, Instrument, ReminderSchedule
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus

# Appointments whose session may still be given: booked, or checked in and not yet started.
_WAITING = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)
_NOT_STARTED = (SessionStatus.ARRIVED, SessionStatus.PRECHECK)

RECENT_ENTRIES = 14


@dataclass(frozen=True)
class SeriesSpan:
    """One induction series as days in the patient's time zone.

    ``start``/``end``: the first and last sessions given (the pump started);
    ``sessions``: their days; ``ongoing``: sessions of this series are still to come (booked
    for today or later, not deferred), so its response cannot be judged yet.
    """

    start: dt.date
    end: dt.date
    sessions: tuple[dt.date, ...] = ()
    ongoing: bool = False
    series_id: int | None = None  # the InductionSeries, when the sessions were booked as one
    location_id: int | None = None  # where the first given session was


# One infusion appointment as ``series_spans`` reads it: when (the start of its given session,
# else the booked start), series id, the location's time zone and id, and whether it was given.
SessionRow = tuple[dt.datetime, int | None, str, int, bool]

# A session of the induction series: its day, location id and whether it was given.
_Session = tuple[dt.date, int, bool]


def _spans(groups: list[tuple[int | None, list[_Session]]]) -> list[SeriesSpan]:
    spans = []
    for series_id, sessions in groups:
        given = sorted((day, location_id) for day, location_id, done in sessions if done)
        if not given:
            continue  # nothing given yet (or ever): not a series
        days = tuple(day for day, _ in given)
        spans.append(
            SeriesSpan(
                start=days[0],
                end=days[-1],
                sessions=days,
                # Only sessions still to come are in a series beside the given ones.
                ongoing=any(not done for _, _, done in sessions),
                series_id=series_id,
                location_id=given[0][1],
            )
        )
    return sorted(spans, key=lambda s: (s.start, s.series_id or 0))


def series_spans(rows: list[SessionRow], today: dt.date) -> list[SeriesSpan]:
    """A patient's series, oldest first, from their given infusion sessions and those still to
    come (``infusion_session_rows``): a session counts once the pump started; deferred, missed and
    cancelled ones never count (item 10 of
    docs/clinical-policy.md "Gates along the journey (added 2026-12-03)").
    A booked session whose day has passed without a start is neither given nor to come.
    Sessions booked as an ``InductionSeries`` are grouped by it; the others by the gap rule
    (``clinical.outcomes.gap_groups``). Days are the location's calendar days."""
    by_series: dict[int, list[_Session]] = {}
    loose: list[_Session] = []
    for at, series_id, zone_name, location_id, given in rows:
        day = at.astimezone(zoneinfo.ZoneInfo(zone_name)).date()
        if not given and day < today:
            continue
        target = loose if series_id is None else by_series.setdefault(series_id, [])
        target.append((day, location_id, given))
    loose.sort()
    loose_groups = [
        [loose[i] for i in run] for run in clinical_outcomes.gap_groups([d for d, _, _ in loose])
    ]
    groups: list[tuple[int | None, list[_Session]]] = [
        *by_series.items(),
        *((None, group) for group in loose_groups),
    ]
    return _spans(groups)


def infusion_series_for_patient(
    patient: Patient, *, today: dt.date | None = None
) -> list[SeriesSpan]:
    """The patient's infusion series, oldest first (one query; see ``series_spans``)."""
    rows = [row for _, row in infusion_session_rows(patient_ids=[patient.pk])]
    if today is None:
        today = timing.local_today(timing.patient_zone(patient))
    return series_spans(rows, today)


def finished_series_ends(patient: Patient, *, today: dt.date) -> list[dt.date]:
    """The last days of the patient's finished infusion series, oldest first (one query). A
    series still under way is left out: only a finished one makes the next series recurrent
    (the plan's suggested tasks)."""
    series = infusion_series_for_patient(patient, today=today)
    return [span.end for span in series if not span.ongoing]


def infusion_session_rows(*, patient_ids: Collection[int]) -> list[tuple[int, SessionRow]]:
    """The one read every series comes from (diary, PGIC timing, boosters, letters, stored
    results and so the analytics), as (patient id, ``SessionRow``) pairs in booked order (one
    query): the infusion appointments (``type.kind == "infusion"``) of ``patient_ids`` whose
    session has started (given), or still booked or checked in without a deferred or started
    session (to come, if their day has not passed)."""
    given = Q(infusion_session__started_at__isnull=False)
    to_come = Q(status__in=_WAITING) & (
        Q(infusion_session__isnull=True) | Q(infusion_session__status__in=_NOT_STARTED)
    )
    rows = (
        Appointment.objects.filter(patient_id__in=patient_ids, type__kind=AppointmentKind.INFUSION)
        .filter(given | to_come)
        .annotate(
            at=Coalesce("infusion_session__started_at", "start"),
            given=ExpressionWrapper(given, output_field=BooleanField()),
        )
        .order_by("start", "pk")
        .values_list("patient_id", "at", "series_id", "location__time_zone", "location_id", "given")
    )
    return [
        (patient_id, (at, series_id, zone_name, location_id, bool(done)))
        for patient_id, at, series_id, zone_name, location_id, done in rows
    ]


@dataclass(frozen=True)
class SeriesOutcome:
    number: int
    span: SeriesSpan
    followup: float | None
    response: str | None
    durability: clinical_outcomes.Durability | None


@dataclass
class DiaryView:
    patient: Patient
    zone: zoneinfo.ZoneInfo
    today: dt.date
    nrs: list[tuple[dt.date, float]]
    peg: list[tuple[dt.date, float]]
    pgic: list[tuple[dt.date, float]]
    recent: list[DiaryEntry]
    series: list[SeriesSpan]
    baseline: float | None
    baseline_source: str  # "diary", "intake" or "" when there is none
    outcomes: list[SeriesOutcome] = field(default_factory=list)
    schedule: ReminderSchedule | None = None
    pgic_due: SeriesSpan | None = None
    today_nrs: DiaryEntry | None = None

    @property
    def threshold(self) -> float | None:
        """The relapse level (70% of baseline, docs/design.md "Clinical core contract")."""
        return (
            None
            if self.baseline is None
            else clinical_outcomes.DEFAULT_RELAPSE_FRACTION * self.baseline
        )


def _intakes(patient: Patient) -> list[tuple[dt.date, float]]:
    """The NRS recorded at the patient's consultations, newest first (one query)."""
    rows = (
        Consultation.objects.filter(patient=patient, pain_nrs__isnull=False)
        .order_by("-exam_date", "-pk")
        .values_list("exam_date", "pain_nrs")
    )
    return [(day, float(value)) for day, value in rows if value is not None]


def patient_baseline(
    nrs: list[tuple[dt.date, float]],
    series: list[SeriesSpan],
    *,
    intakes: list[tuple[dt.date, float]],
) -> tuple[float | None, str]:
    """(baseline, "diary" | "intake" | "") before the first given session
    (``clinical.outcomes.baseline_choice``; ``intakes``: consultation (date, NRS) pairs, newest
    first). No series given, no baseline."""
    if not series:
        return None, ""
    start = series[0].start
    # Only the week before the first session counts (``baseline_from_entries``): handing the
    # rule just those entries gives the same baseline without reading years of diary.
    week = [(d, v) for d, v in nrs if start - dt.timedelta(days=7) <= d < start]
    return clinical_outcomes.baseline_choice(week, start, intakes=intakes)


def series_outcomes(
    *,
    nrs: list[tuple[dt.date, float]],
    series: list[SeriesSpan],
    baseline: float | None,
) -> list[SeriesOutcome]:
    """Response class and durability of each finished series (``clinical.outcomes.judge_series``,
    on the entries before the next series starts); an ongoing series is not judged yet."""
    results = []
    for index, span in enumerate(series):
        if span.ongoing:
            results.append(SeriesOutcome(index + 1, span, None, None, None))
            continue
        next_start = series[index + 1].start if index + 1 < len(series) else None
        # The rule reads only the entries from the series' last day until the next series:
        # handing it just those keeps each series' work to its own stretch of the diary.
        own = [(d, v) for d, v in nrs if d >= span.end and (next_start is None or d < next_start)]
        judged = clinical_outcomes.judge_series(
            baseline=baseline, entries=own, series_end=span.end, next_start=next_start
        )
        results.append(
            SeriesOutcome(index + 1, span, judged.followup, judged.response, judged.durability)
        )
    return results


@dataclass(frozen=True)
class Relapse:
    """The relapse after the patient's latest series, as a booster suggestion records it."""

    series_end: dt.date
    relapse_date: dt.date
    baseline: float
    window_means: dict[str, float]


def latest_relapse(
    *, nrs: list[tuple[dt.date, float]], outcomes: list[SeriesOutcome], baseline: float | None
) -> Relapse | None:
    """The relapse ``durability`` reports for the latest series (``outcomes`` from
    ``series_outcomes``), with the 7-day window means of its run; None without one. One
    definition for the booster check of one patient and the batch refresh."""
    if not outcomes or baseline is None:
        return None
    latest = outcomes[-1]
    if latest.durability is None or latest.durability.relapse_date is None:
        return None
    relapse = latest.durability.relapse_date
    means = clinical_outcomes.relapse_window_means(
        entries=nrs, series_end=latest.span.end, relapse_date=relapse
    )
    shown = {day.isoformat(): round(mean, 2) for day, mean in means.items()}
    return Relapse(latest.span.end, relapse, baseline, shown)


def diary_unaudited(patient: Patient, *, now: dt.datetime | None) -> DiaryView:
    """The diary page's data without an audit event: for system work that audits its own
    result (the booster check, the letter). Pages use ``diary.selectors.diary_view``."""
    zone = timing.patient_zone(patient)
    today = timing.local_today(zone, now)
    entries = list(
        DiaryEntry.objects.filter(patient=patient)
        .only("instrument", "entry_date", "score", "note", "answers", "version", "source")
        .order_by("entry_date", "instrument")
    )
    by_kind: dict[str, list[tuple[dt.date, float]]] = {k: [] for k in Instrument.values}
    for entry in entries:
        by_kind[entry.instrument].append((entry.entry_date, entry.score))
    series = infusion_series_for_patient(patient, today=today)
    baseline, source = patient_baseline(by_kind[Instrument.NRS], series, intakes=_intakes(patient))
    view = DiaryView(
        patient=patient,
        zone=zone,
        today=today,
        nrs=by_kind[Instrument.NRS],
        peg=by_kind[Instrument.PEG],
        pgic=by_kind[Instrument.PGIC],
        recent=list(reversed(entries[-RECENT_ENTRIES:])),
        series=series,
        baseline=baseline,
        baseline_source=source,
        schedule=ReminderSchedule.objects.filter(patient=patient).first(),
        today_nrs=next(
            (e for e in reversed(entries) if e.instrument == "nrs" and e.entry_date == today),
            None,
        ),
    )
    view.outcomes = series_outcomes(nrs=view.nrs, series=series, baseline=baseline)
    view.pgic_due = pgic_due(series, [d for d, _ in view.pgic])
    return view


def pgic_due(series: list[SeriesSpan], pgic_dates: Collection[dt.date]) -> SeriesSpan | None:
    """The finished series whose impression of change (PGIC) the patient has not given yet: the
    latest finished one, when no PGIC is dated on or after its last day."""
    finished = [s for s in series if not s.ongoing]
    if finished and not any(d >= finished[-1].end for d in pgic_dates):
        return finished[-1]
    return None


@dataclass(frozen=True)
class DiaryDue:
    """What the patient's diary asks of her today (her home page's "to do")."""

    today: dt.date
    nrs_today: bool  # today's pain score is still to record
    pgic: SeriesSpan | None  # the series whose PGIC is due, if any


def diary_due(*, patient: Patient, now: dt.datetime | None = None) -> DiaryDue:
    """Today's diary entry and the PGIC when due, in the patient's zone: three queries,
    unaudited (the home page that shows it writes one read event for the patient)."""
    zone = timing.patient_zone(patient)
    today = timing.local_today(zone, now)
    entries = DiaryEntry.objects.filter(patient=patient)
    nrs_done = entries.filter(instrument=Instrument.NRS, entry_date=today).exists()
    pgic_dates = list(
        entries.filter(instrument=Instrument.PGIC).values_list("entry_date", flat=True)
    )
    series = infusion_series_for_patient(patient, today=today)
    return DiaryDue(today=today, nrs_today=not nrs_done, pgic=pgic_due(series, pgic_dates))
