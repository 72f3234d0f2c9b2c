"""Stored series results: the chart's response and durability judgement, kept per series.

The clinic analytics need, for every series of the clinic, what the clinician's chart shows for
it: baseline, follow-up, response class, relief and relapse (``selectors.series_outcomes``, i.e.
``clinical.outcomes`` and nothing else). Recomputing that from years of diary on every page view
would read millions of rows, so it is computed here, per patient, and stored as ``SeriesResult``
rows that the analytics aggregate in the database. A batch of patients costs a fixed handful of
queries whatever its size.

What changed, not everything: each write that can change a patient's results marks the patient
(``series_results_mark``, a ``ResultsMark`` row; the diary marks in the entry's own transaction)
and the periodic refresh (``series_results_refresh_changed``) takes only the marked patients,
those whose booked session's day has passed unstarted (``recheck_at``: the passage of time) and
those with a consultation changed since their results were stored. It reads and computes outside
any transaction, so the database's write lock is held only for the short write of each batch of
``BATCH_PATIENTS``; it clears only the marks it read, so a write during the computation keeps its
mark for the next run. ``series_results_refresh`` recomputes a whole clinic (the seed command,
and the reference a test compares the incremental refresh with).

Writes are audited once per batch or refresh (a system event naming how many patients and
series), not once per patient: the rows are derived from data whose every write was audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from ketaclinic.assessments.models import Cause, Consultation
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.outcomes import selectors, timing
from ketaclinic.outcomes.models import DiaryEntry, Instrument, ResultsMark, SeriesResult
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol
from ketaclinic.scheduling.models import Appointment, AppointmentKind

BATCH_PATIENTS = 500

# The durability rule's parameters (the defaults of ``clinical.outcomes.durability``,
# docs/design.md "Clinical core contract"), stored with every result.
RULE_PARAMETERS: dict[str, Any] = {
    "relapse_fraction": clinical_outcomes.DEFAULT_RELAPSE_FRACTION,
    "window_days": clinical_outcomes.WINDOW_DAYS,
    "min_days_in_window": clinical_outcomes.MIN_DAYS_IN_WINDOW,
    "relapse_run_days": clinical_outcomes.RELAPSE_RUN_DAYS,
    "followup_days": clinical_outcomes.FOLLOWUP_DAYS,
    "followup_min_days": clinical_outcomes.FOLLOWUP_MIN_DAYS,
}


@dataclass
class PatientOutcomes:
    """One patient's computed results: the rows to store, the latest series' relapse (what the
    booster check suggests from) and when the passage of time alone may change them."""

    patient: Patient
    results: list[SeriesResult]
    relapse: selectors.Relapse | None
    recheck_at: dt.datetime | None


def _recheck_at(
    sessions: list[selectors.SessionRow], zone: zoneinfo.ZoneInfo, today: dt.date
) -> dt.datetime | None:
    """The start of the day after the earliest session still to come, in the patient's zone:
    once that day has passed unstarted the session leaves its series (``series_spans``), the
    one way the results change with no write. None without a session to come."""
    waiting = [
        day
        for at, _series, zone_name, _location, given in sessions
        if not given and (day := at.astimezone(zoneinfo.ZoneInfo(zone_name)).date()) >= today
    ]
    if not waiting:
        return None
    return dt.datetime.combine(min(waiting) + dt.timedelta(days=1), dt.time(0), tzinfo=zone)


def _results_for(
    *,
    patient: Patient,
    zone: zoneinfo.ZoneInfo,
    now: dt.datetime,
    sessions: list[selectors.SessionRow],
    nrs: list[tuple[dt.date, float]],
    intakes: list[tuple[dt.date, float]],
    cause: str,
    protocols: dict[int, str],
) -> PatientOutcomes:
    """The patient's series results from their rows (no queries). ``intakes`` newest first."""
    today = timing.local_today(zone, now)
    spans = selectors.series_spans(sessions, today)
    baseline, source = selectors.patient_baseline(nrs, spans, intakes=intakes)
    outcomes = selectors.series_outcomes(nrs=nrs, series=spans, baseline=baseline)
    rows = []
    for outcome in outcomes:
        span, lasting = outcome.span, outcome.durability
        rows.append(
            SeriesResult(
                clinic_id=patient.clinic_id,
                patient=patient,
                number=outcome.number,
                series_id=span.series_id,
                location_id=span.location_id,
                start=span.start,
                end=span.end,
                sessions=len(span.sessions),
                ongoing=span.ongoing,
                cause=cause,
                protocol=protocols.get(span.series_id or 0, ""),
                baseline=baseline,
                baseline_source=source,
                followup=outcome.followup,
                response=outcome.response or "",
                responded=bool(lasting and lasting.responded),
                response_date=lasting.response_date if lasting else None,
                relapse_date=lasting.relapse_date if lasting else None,
                days_of_relief=lasting.days_of_relief if lasting else None,
                censored=bool(lasting and lasting.censored),
                rule={**RULE_PARAMETERS, "source": clinical_outcomes.SOURCE},
                computed_at=now,
            )
        )
    return PatientOutcomes(
        patient=patient,
        results=rows,
        relapse=selectors.latest_relapse(nrs=nrs, outcomes=outcomes, baseline=baseline),
        recheck_at=_recheck_at(sessions, zone, today),
    )


def _fallback_zones(clinic_ids: Iterable[int]) -> dict[int, zoneinfo.ZoneInfo]:
    """Each clinic's first location's zone, for patients without a home location (one query)."""
    zones: dict[int, zoneinfo.ZoneInfo] = {}
    for clinic_id, name in (
        Location.objects.filter(clinic_id__in=set(clinic_ids))
        .order_by("clinic_id", "pk")
        .values_list("clinic_id", "time_zone")
    ):
        zones.setdefault(clinic_id, zoneinfo.ZoneInfo(name))
    return zones


def series_outcomes_compute(patients: Sequence[Patient], now: dt.datetime) -> list[PatientOutcomes]:
    """Results of a batch of patients (``home_location`` selected): six reads per batch, no
    writes, so it runs outside any transaction (and outside the database's write lock)."""
    ids = [p.pk for p in patients]
    sessions: dict[int, list[selectors.SessionRow]] = defaultdict(list)
    series_ids: set[int] = set()
    for patient_id, row in selectors.infusion_session_rows(patient_ids=ids):
        sessions[patient_id].append(row)
        series_id = row[1]
        if series_id is not None:
            series_ids.add(series_id)
    nrs: dict[int, list[tuple[dt.date, float]]] = defaultdict(list)
    for patient_id, day, score in (
        DiaryEntry.objects.filter(patient_id__in=ids, instrument=Instrument.NRS)
        .order_by("patient_id", "entry_date")
        .values_list("patient_id", "entry_date", "score")
    ):
        nrs[patient_id].append((day, score))
    intakes: dict[int, list[tuple[dt.date, float]]] = defaultdict(list)
    for patient_id, day, value in (
        Consultation.objects.filter(patient_id__in=ids, pain_nrs__isnull=False)
        .order_by("patient_id", "-exam_date", "-pk")
        .values_list("patient_id", "exam_date", "pain_nrs")
    ):
        if value is not None:  # excluded by the filter; the check is for the type checker
            intakes[patient_id].append((day, float(value)))
    # The patient's cause for grouping: the first display name of any cause recorded for them.
    causes = dict(
        Cause.objects.filter(consultation__patient_id__in=ids)
        .values("consultation__patient_id")
        .annotate(first=Min("display"))
        .values_list("consultation__patient_id", "first")
    )
    protocols = dict(
        KetamineProtocol.objects.filter(plan__induction_series__id__in=series_ids).values_list(
            "plan__induction_series__id", "template_name"
        )
    )
    fallback = _fallback_zones(p.clinic_id for p in patients if p.home_location is None)
    results: list[PatientOutcomes] = []
    for patient in patients:
        zone = (
            zoneinfo.ZoneInfo(patient.home_location.time_zone)
            if patient.home_location is not None
            else fallback.get(patient.clinic_id, zoneinfo.ZoneInfo(settings.TIME_ZONE))
        )
        results.append(
            _results_for(
                patient=patient,
                zone=zone,
                now=now,
                sessions=sessions.get(patient.pk, []),
                nrs=nrs.get(patient.pk, []),
                intakes=intakes.get(patient.pk, []),
                cause=causes.get(patient.pk) or "",
                protocols=protocols,
            )
        )
    return results


# --- marks ------------------------------------------------------------------------------------


def series_results_mark(
    *, patients: Iterable[tuple[int, int]], now: dt.datetime | None = None
) -> None:
    """Mark (patient id, clinic id) pairs as changed: one upsert, whatever was there. Call it in
    the transaction of the write that changed them, so the mark commits (or not) with it."""
    now = now or timezone.now()
    marks = [
        ResultsMark(patient_id=patient_id, clinic_id=clinic_id, dirty=uuid.uuid4(), marked_at=now)
        for patient_id, clinic_id in sorted(set(patients))
    ]
    if marks:
        ResultsMark.objects.bulk_create(
            marks,
            update_conflicts=True,
            unique_fields=["patient"],
            update_fields=["dirty", "marked_at"],
        )


def _marks_read(patient_ids: Sequence[int]) -> dict[int, uuid.UUID]:
    """The marks of ``patient_ids`` as they are before the computation (one query)."""
    rows = ResultsMark.objects.filter(patient_id__in=patient_ids, dirty__isnull=False)
    return {
        patient_id: dirty
        for patient_id, dirty in rows.values_list("patient_id", "dirty")
        if dirty is not None  # excluded by the filter; the check is for the type checker
    }


def _not_overtaken(
    computed: Sequence[PatientOutcomes], read_at: dt.datetime
) -> list[PatientOutcomes]:
    """The computed patients whose stored results were not written from a later read than this
    batch's (``read_at``), locking their marks (one query, in the caller's write transaction).

    Two refreshes can overlap (a run longer than its period, on another worker): a slow run
    must not replace what a later run stored from fresher data (whose mark that run already
    cleared) with what it read before. A skipped patient's mark is left as it is."""
    ids = [c.patient.pk for c in computed]
    newer = set(
        ResultsMark.objects.select_for_update()
        .filter(patient_id__in=ids, computed_at__gt=read_at)
        .values_list("patient_id", flat=True)
    )
    return [c for c in computed if c.patient.pk not in newer]


def _store(
    computed: Sequence[PatientOutcomes],
    marks: dict[int, uuid.UUID] | None,
    now: dt.datetime,
    read_at: dt.datetime | None = None,
) -> int:
    """Write one computed batch (in the caller's transaction): the results replaced, each
    patient's ``recheck_at`` and ``computed_at`` kept, and the marks read before the
    computation (``marks``) cleared. A mark set since has another value, so it stays. Four
    queries. ``marks`` None: a refresh of the results alone, without the booster check that a
    mark also stands for, so it clears no mark and marks a patient it sees for the first time
    (the next refresh of what changed does the booster check). ``read_at``: when the batch's
    marks and rows were read, kept as the mark's ``computed_at`` (``_not_overtaken`` compares
    it; a consultation changed after it is picked up again); ``now`` without it."""
    ids = [c.patient.pk for c in computed]
    rows = [row for c in computed for row in c.results]
    consumed = {pk: marks[pk] for pk in ids if pk in marks} if marks is not None else {}
    SeriesResult.objects.filter(patient__in=ids).delete()
    SeriesResult.objects.bulk_create(rows, batch_size=2000)
    ResultsMark.objects.bulk_create(
        [
            ResultsMark(
                patient_id=c.patient.pk,
                clinic_id=c.patient.clinic_id,
                recheck_at=c.recheck_at,
                computed_at=read_at or now,
                # Written only when the row is new (``update_fields`` leaves an existing mark).
                dirty=None if marks is not None else uuid.uuid4(),
                marked_at=None if marks is not None else now,
            )
            for c in computed
        ],
        update_conflicts=True,
        unique_fields=["patient"],
        update_fields=["clinic", "recheck_at", "computed_at"],
        batch_size=2000,
    )
    if consumed:
        ResultsMark.objects.filter(
            patient_id__in=list(consumed), dirty__in=list(consumed.values())
        ).update(dirty=None)
    return len(rows)


def _batch(clinic_id: int | None, ids: Sequence[int]) -> list[Patient]:
    patients = Patient.objects.filter(pk__in=ids)
    if clinic_id is not None:
        patients = patients.filter(clinic_id=clinic_id)
    return list(patients.select_related("home_location").order_by("pk"))


# A batch's extra work inside its write (the booster check): gets the computed batch, returns
# how many things it created.
BatchHook = Callable[[Sequence[PatientOutcomes]], int]


@dataclass(frozen=True)
class RefreshCount:
    patients: int = 0
    series: int = 0
    created: int = 0  # by the batch hook (booster suggestions)


def _refresh_batches(
    *,
    clinic_id: int | None,
    ids: Sequence[int],
    now: dt.datetime,
    hook: BatchHook | None,
    audit_batches: bool,
    progress: Callable[[int], None] | None = None,
) -> RefreshCount:
    """Read, compute (no transaction), then write each batch in one short transaction."""
    patients = series = created = 0
    for begin in range(0, len(ids), BATCH_PATIENTS):
        part = ids[begin : begin + BATCH_PATIENTS]
        read_at = timezone.now()  # before the marks and the rows: see ``_not_overtaken``
        marks = _marks_read(part) if hook is not None else None
        batch = _batch(clinic_id, part)
        computed = series_outcomes_compute(batch, now)
        with transaction.atomic():
            computed = _not_overtaken(computed, read_at)
            stored = _store(computed, marks, now, read_at)
            made = hook(computed) if hook is not None else 0
            if audit_batches and batch and clinic_id is not None:
                audit_record(
                    actor=Actor(user=None),
                    action=Action.UPDATE,
                    object_type="series_results",
                    clinic=Clinic(pk=clinic_id),
                    detail={"patients": len(batch), "series": stored, "changed_only": True},
                )
        patients, series, created = patients + len(batch), series + stored, created + made
        if progress is not None:
            progress(len(batch))
    return RefreshCount(patients=patients, series=series, created=created)


def series_results_refresh_patient(*, patient: Patient, now: dt.datetime | None = None) -> int:
    """Recompute one patient's stored series results now (marked or not; the mark stays for
    the booster check); audited."""
    now = now or timezone.now()
    read_at = timezone.now()
    computed = series_outcomes_compute([patient], now)
    with transaction.atomic():
        stored = _store(_not_overtaken(computed, read_at), None, now, read_at)
        audit_record(
            actor=Actor(user=None),
            action=Action.UPDATE,
            object_type="series_results",
            object_id=patient.public_id,
            patient=patient,
            detail={"series": stored},
        )
    return stored


def series_results_changed(*, clinic: Clinic, now: dt.datetime) -> list[int]:
    """The clinic's patients whose results may have changed (two queries): marked ones, those
    whose ``recheck_at`` has come, and those with a consultation (the intake pain score, the
    cause) changed after their results were stored."""
    marks = ResultsMark.objects.filter(clinic=clinic)
    due = marks.filter(Q(dirty__isnull=False) | Q(recheck_at__lte=now)).values_list(
        "patient_id", flat=True
    )
    consulted = (
        marks.filter(computed_at__isnull=False)
        .filter(
            Exists(
                Consultation.objects.filter(
                    patient_id=OuterRef("patient_id"), updated_at__gt=OuterRef("computed_at")
                )
            )
        )
        .values_list("patient_id", flat=True)
    )
    return sorted(set(due) | set(consulted))


def series_results_refresh_changed(
    *,
    clinic: Clinic,
    now: dt.datetime | None = None,
    patient_ids: Sequence[int] | None = None,
    hook: BatchHook,
) -> RefreshCount:
    """Recompute the stored results of what changed in ``clinic`` (``series_results_changed``,
    or just ``patient_ids``), in batches of ``BATCH_PATIENTS``: each read and computed outside
    any transaction, then written, with ``hook``'s work (the booster check, which the marks
    also stand for: ``boosters.services.outcomes_refresh_changed``) and one audit event, in one
    short transaction that clears the marks read. Nothing changed, nothing written."""
    now = now or timezone.now()
    ids = (
        sorted(patient_ids)
        if patient_ids is not None
        else series_results_changed(clinic=clinic, now=now)
    )
    return _refresh_batches(clinic_id=clinic.pk, ids=ids, now=now, hook=hook, audit_batches=True)


def series_results_refresh(
    *,
    clinic: Clinic,
    now: dt.datetime | None = None,
    patient_ids: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Recompute the stored series results of every patient of ``clinic`` who has had an
    infusion appointment (or of ``patient_ids``), in batches of ``BATCH_PATIENTS``; returns the
    number of series stored. ``progress`` is called with the patients done after each batch.
    The whole clinic, changed or not: the seed command's and the reference for the
    incremental ``series_results_refresh_changed``."""
    now = now or timezone.now()
    whole_clinic = patient_ids is None
    if patient_ids is None:
        patient_ids = list(_treated_patients(clinic))
    ids = sorted(patient_ids)
    counted = _refresh_batches(
        clinic_id=clinic.pk, ids=ids, now=now, hook=None, audit_batches=False, progress=progress
    )
    with transaction.atomic():
        if whole_clinic:
            # A patient whose every infusion was cancelled since keeps no stale rows.
            SeriesResult.objects.filter(clinic=clinic).exclude(
                patient_id__in=_treated_patients(clinic)
            ).delete()
        audit_record(
            actor=Actor(user=None),
            action=Action.UPDATE,
            object_type="series_results",
            clinic=clinic,
            detail={"patients": len(ids), "series": counted.series},
        )
    return counted.series


def _treated_patients(clinic: Clinic) -> QuerySet[Any, int]:
    """Ids of the clinic's patients with an infusion appointment (any status)."""
    return (
        Appointment.objects.filter(clinic=clinic, type__kind=AppointmentKind.INFUSION)
        .order_by()
        .values_list("patient_id", flat=True)
        .distinct()
    )


def appointments_changed_receiver(
    sender: object, patient_ids: Sequence[int], **kwargs: Any
) -> None:
    """``scheduling.signals.appointments_changed`` (sent after the change committed): mark the
    patients, whose results the next refresh recomputes (two queries). Marking, not computing:
    a front-desk action never waits for a long diary to be judged."""
    series_results_mark(
        patients=Patient.objects.filter(pk__in=list(patient_ids)).values_list("pk", "clinic_id")
    )
