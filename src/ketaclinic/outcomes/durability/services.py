"""Stored series results: the chart's response and durability judgement, kept per series.

The clinic analytics need, for every series of the clinic, what the clinician's chart shows for
it: baseline, follow-up, response class, relief and relapse (``selectors.series_outcomes``, i.e.
``clinical.outcomes`` and nothing else). Recomputing that from years of diary on every page view
would read millions of rows, so it is computed here, per patient, and stored as ``SeriesResult``
rows that the analytics aggregate in the database. The same functions serve one patient (after
each daily score, so a relapse shows at once) and a whole clinic in batches (the periodic refresh
and the seed command): a batch of patients costs a fixed handful of queries.

Writes are audited once per refresh (a system event naming how many patients and series), not
once per patient: the rows are derived from data whose every write was audited already.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min, QuerySet
from django.utils import timezone

from ketaclinic.assessments.models import Cause, Consultation
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.outcomes import selectors, timing
from ketaclinic.outcomes.models import DiaryEntry, Instrument, SeriesResult
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
) -> list[SeriesResult]:
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
    return rows


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


def _compute(patients: Sequence[Patient], now: dt.datetime) -> list[SeriesResult]:
    """Results of a batch of patients (``home_location`` selected): six queries per batch."""
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
    results: list[SeriesResult] = []
    for patient in patients:
        zone = (
            zoneinfo.ZoneInfo(patient.home_location.time_zone)
            if patient.home_location is not None
            else fallback.get(patient.clinic_id, zoneinfo.ZoneInfo(settings.TIME_ZONE))
        )
        results += _results_for(
            patient=patient,
            zone=zone,
            now=now,
            sessions=sessions.get(patient.pk, []),
            nrs=nrs.get(patient.pk, []),
            intakes=intakes.get(patient.pk, []),
            cause=causes.get(patient.pk) or "",
            protocols=protocols,
        )
    return results


def _store(patients: Sequence[Patient], now: dt.datetime) -> int:
    results = _compute(patients, now)
    SeriesResult.objects.filter(patient__in=[p.pk for p in patients]).delete()
    SeriesResult.objects.bulk_create(results, batch_size=2000)
    return len(results)


def series_results_refresh_patient(*, patient: Patient, now: dt.datetime | None = None) -> int:
    """Recompute one patient's stored series results (after a daily score); audited."""
    now = now or timezone.now()
    with transaction.atomic():
        stored = _store([patient], now)
        audit_record(
            actor=Actor(user=None),
            action=Action.UPDATE,
            object_type="series_results",
            object_id=patient.public_id,
            patient=patient,
            detail={"series": stored},
        )
    return stored


def series_results_refresh(
    *,
    clinic: Clinic,
    now: dt.datetime | None = None,
    patient_ids: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Recompute the stored series results of every patient of ``clinic`` who has had an
    infusion appointment (or of ``patient_ids``), in batches of ``BATCH_PATIENTS``; returns the
    number of series stored. ``progress`` is called with the patients done after each batch."""
    now = now or timezone.now()
    whole_clinic = patient_ids is None
    if patient_ids is None:
        patient_ids = list(_treated_patients(clinic))
    ids = sorted(patient_ids)
    stored = 0
    for begin in range(0, len(ids), BATCH_PATIENTS):
        batch = list(
            Patient.objects.filter(clinic=clinic, pk__in=ids[begin : begin + BATCH_PATIENTS])
            .select_related("home_location")
            .order_by("pk")
        )
        with transaction.atomic():
            stored += _store(batch, now)
        if progress is not None:
            progress(len(batch))
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
            detail={"patients": len(ids), "series": stored},
        )
    return stored


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
    """``scheduling.signals.appointments_changed``: recompute the results of those of the
    patients who have infusion appointments or stored results (two queries, then one refresh
    each)."""
    infused = Appointment.objects.filter(
        patient_id__in=patient_ids, type__kind=AppointmentKind.INFUSION
    ).values_list("patient_id", flat=True)
    stored = SeriesResult.objects.filter(patient_id__in=patient_ids).values_list(
        "patient_id", flat=True
    )
    treated = set(infused.distinct()) | set(stored)
    for patient in Patient.objects.filter(pk__in=treated).select_related("home_location"):
        series_results_refresh_patient(patient=patient)
