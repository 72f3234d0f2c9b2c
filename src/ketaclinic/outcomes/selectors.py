"""Reads of the pain diary for the patient's and the clinician's pages.

A chart page costs a fixed number of queries whatever the length of the diary: the entries (one
query), the infusion appointments (one), the intake NRS (one), the reminder schedule (one), the
time zone (none, or one without a home location) and the audit event. Every read of diary data
writes an audit event in the same transaction.

Clinical arithmetic (baseline, response class, durability) comes from
``ketaclinic.clinical.outcomes`` only; this module gathers the inputs and lays out the results.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet

from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.outcomes import timing
from ketaclinic.outcomes.models import DiaryEntry, Instrument, ReminderSchedule
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus

# Consecutive infusions no further apart than this form one series when the appointments carry
# no series of their own (bookings made one by one).
SERIES_GAP_DAYS = 14
# The follow-up pain of a series: the mean daily NRS over the 7 days after its last session,
# defined when at least 4 of those days have an entry (the durability rule's window,
# docs/design.md "Clinical core contract").
FOLLOWUP_DAYS = 7
FOLLOWUP_MIN_DAYS = 4
RECENT_ENTRIES = 14

_SKIPPED = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


@dataclass(frozen=True)
class SeriesSpan:
    """One induction series as days in the patient's time zone.

    ``start``/``end``: the first and last sessions that have taken place (today or earlier);
    ``sessions``: their days; ``ongoing``: more sessions of this series are still to come, so its
    response cannot be judged yet.
    """

    start: dt.date
    end: dt.date
    sessions: tuple[dt.date, ...] = ()
    ongoing: bool = False
    series_id: int | None = None  # the InductionSeries, when the sessions were booked as one
    location_id: int | None = None  # where the first session was


# One infusion appointment as ``series_spans`` reads it: start, series id, the location's time
# zone and id.
SessionRow = tuple[dt.datetime, int | None, str, int]


def _spans(
    groups: list[tuple[int | None, list[tuple[dt.date, int]]]], today: dt.date
) -> list[SeriesSpan]:
    spans = []
    for series_id, sessions in groups:
        days = [d for d, _ in sessions]
        past = tuple(sorted(d for d in days if d <= today))
        if past:
            spans.append(
                SeriesSpan(
                    start=past[0],
                    end=past[-1],
                    sessions=past,
                    ongoing=len(past) < len(days),
                    series_id=series_id,
                    location_id=min(sessions)[1],
                )
            )
    return sorted(spans, key=lambda s: (s.start, s.series_id or 0))


def series_spans(rows: list[SessionRow], today: dt.date) -> list[SeriesSpan]:
    """A patient's series from their infusion appointments (not cancelled or missed), oldest
    first. Those booked as an ``InductionSeries`` are grouped by it; the others (booked one by
    one, or before series existed) by the gap rule: consecutive sessions at most
    ``SERIES_GAP_DAYS`` apart are one series. Days are the location's calendar days."""
    by_series: dict[int, list[tuple[dt.date, int]]] = {}
    loose: list[tuple[dt.date, int]] = []
    for start, series_id, zone_name, location_id in rows:
        day = start.astimezone(zoneinfo.ZoneInfo(zone_name)).date()
        if series_id is not None:
            by_series.setdefault(series_id, []).append((day, location_id))
        else:
            loose.append((day, location_id))
    loose_groups: list[list[tuple[dt.date, int]]] = []
    for session in sorted(loose):
        if loose_groups and (session[0] - loose_groups[-1][-1][0]).days <= SERIES_GAP_DAYS:
            loose_groups[-1].append(session)
        else:
            loose_groups.append([session])
    groups: list[tuple[int | None, list[tuple[dt.date, int]]]] = [
        *by_series.items(),
        *((None, group) for group in loose_groups),
    ]
    return _spans(groups, today)


def infusion_series_for_patient(
    patient: Patient, *, today: dt.date | None = None
) -> list[SeriesSpan]:
    """The patient's infusion series, oldest first (one query; see ``series_spans``)."""
    rows = list(infusion_session_rows().filter(patient=patient))
    if today is None:
        today = timing.local_today(timing.patient_zone(patient))
    return series_spans(rows, today)


def infusion_session_rows() -> QuerySet[Appointment, SessionRow]:
    """Infusion appointments (``type.kind == "infusion"``) not cancelled or missed, as
    ``SessionRow`` tuples; the caller narrows them to one patient or a batch."""
    return (
        Appointment.objects.filter(type__kind=AppointmentKind.INFUSION)
        .exclude(status__in=_SKIPPED)
        .order_by("start", "pk")
        .values_list("start", "series_id", "location__time_zone", "location_id")
    )


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
    from ketaclinic.assessments.models import Consultation

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
    """(baseline, "diary" | "intake" | "") before the first series
    (docs/clinical-policy.md "Outcomes [6.1]"):
    the mean daily NRS of the 7 days before the first infusion, else the latest intake NRS on or
    before it (``intakes``: consultation (date, NRS) pairs, newest first), recorded to
    hundredths (``clinical.outcomes.recorded_baseline``) so every decision uses the stored value.
    """
    if not series:
        return None, ""
    first = series[0].start
    baseline = clinical_outcomes.baseline_from_entries(nrs, first)
    if baseline is not None:
        return clinical_outcomes.recorded_baseline(baseline), "diary"
    intake = next((value for day, value in intakes if day <= first), None)
    if intake is not None:
        return clinical_outcomes.recorded_baseline(intake), "intake"
    return None, ""


def series_outcomes(
    *,
    nrs: list[tuple[dt.date, float]],
    series: list[SeriesSpan],
    baseline: float | None,
) -> list[SeriesOutcome]:
    """Response class and durability of each series (``clinical.outcomes``).

    Each series is judged on the entries before the next series starts, so a later series'
    relief is never credited to an earlier one; its durability is then censored at the last
    entry before the next series.
    """
    results = []
    for index, span in enumerate(series):
        if span.ongoing or baseline is None or baseline <= 0:
            results.append(SeriesOutcome(index + 1, span, None, None, None))
            continue
        next_start = series[index + 1].start if index + 1 < len(series) else None
        window = [(d, v) for d, v in nrs if next_start is None or d < next_start]
        # baseline_from_entries averages the days before a given day: asked for the day 8 days
        # after the series end, it gives the mean of days end+1 .. end+7, the follow-up week.
        followup = clinical_outcomes.baseline_from_entries(
            window,
            span.end + dt.timedelta(days=FOLLOWUP_DAYS + 1),
            window_days=FOLLOWUP_DAYS,
            min_days=FOLLOWUP_MIN_DAYS,
        )
        response = (
            clinical_outcomes.classify_response(baseline, followup)
            if followup is not None
            else None
        )
        lasting = clinical_outcomes.durability(
            baseline=baseline, entries=window, series_end=span.end
        )
        results.append(SeriesOutcome(index + 1, span, followup, response, lasting))
    return results


def diary_unaudited(patient: Patient, *, now: dt.datetime | None) -> DiaryView:
    """The diary page's data without an audit event: for system work that audits its own
    result (the booster check, the letter). Pages use ``diary_view``."""
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
    finished = [s for s in series if not s.ongoing]
    if finished and not any(d >= finished[-1].end for d, _ in view.pgic):
        view.pgic_due = finished[-1]
    return view


def diary_view(
    *, actor: Actor, patient: Patient, audience: str, now: dt.datetime | None = None
) -> DiaryView:
    """Everything the diary page shows (``audience``: "patient" or "clinician"); one audit event.

    The caller has authorized ``actor`` for ``patient`` (``access_patient``).
    """
    with transaction.atomic():
        view = diary_unaudited(patient, now=now)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="diary",
            object_id=patient.public_id,
            patient=patient,
            detail={
                "audience": audience,
                "entries": len(view.nrs) + len(view.peg) + len(view.pgic),
            },
        )
    return view


def diary_entry_for_day(
    *, actor: Actor, patient: Patient, instrument: str, day: dt.date
) -> DiaryEntry | None:
    """The patient's entry for one instrument and day, to prefill a correction; audited."""
    with transaction.atomic():
        entry = DiaryEntry.objects.filter(
            patient=patient, instrument=instrument, entry_date=day
        ).first()
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="diary_entry",
            object_id=entry.pk if entry is not None else "",
            patient=patient,
            detail={"instrument": instrument, "date": day.isoformat(), "found": entry is not None},
        )
    return entry


def reminder_schedule_for(*, actor: Actor, patient: Patient) -> ReminderSchedule | None:
    """The patient's reminder settings for the settings page; audited like any diary read."""
    with transaction.atomic():
        schedule = ReminderSchedule.objects.filter(patient=patient).first()
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="diary_reminder_schedule",
            object_id=schedule.pk if schedule is not None else "",
            patient=patient,
        )
    return schedule
