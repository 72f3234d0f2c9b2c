"""What happened to a seeded batch after booking: infusion appointments (completed or no-show),
the daily pain diary around the series, discharged infusion sessions and their adverse events.

Separate from ``records.py``: this is the simulated course of treatment (relief, relapse,
missed diary days), read from the records and the drafts' draws.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import numpy as np
from django.db import transaction

from ketaclinic.devdata.seeding.bulk import chunks, copy_rows, write_chunked
from ketaclinic.devdata.seeding.population import (
    ADVERSE_EVENT_P,
    AE_KINDS,
    BASELINE_DAYS,
    FIRST_SLOT,
    MISSING_DAY_P,
    NO_SHOW_P,
    UNSIGNED_DAYS,
    PatientDraft,
    SeedRun,
    SeedSummary,
    seed_uuid,
    series_days,
    series_days_ending,
)
from ketaclinic.infusions.models import (
    AdverseEvent,
    InfusionSession,
    Outcome,
    SessionStatus,
    Severity,
)
from ketaclinic.outcomes.models import NRS_LOINC, DiaryEntry, EntrySource, Instrument
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentStatus, InductionSeries

# The diary's columns the seed writes (the rest take their defaults: ``bulk.table_columns``).
DIARY_FIELDS = (
    "public_id",
    "clinic_id",
    "patient_id",
    "instrument",
    "entry_date",
    "answers",
    "score",
    "loinc",
    "source",
)


def write_history(
    run: SeedRun,
    *,
    patients: list[Patient],
    drafts: list[PatientDraft],
    series_rows: list[InductionSeries],
    summary: SeedSummary,
) -> tuple[list[Appointment], list[InfusionSession]]:
    """Draw the batch's history, then write it in short transactions (``bulk.py``); returns
    the appointments and sessions written (the audit trail is drawn from them)."""
    rng = run.rng
    appointments: list[Appointment] = []
    completed: list[tuple[Appointment, PatientDraft]] = []
    entries: list[tuple[object, ...]] = []
    for patient, series, draft in zip(patients, series_rows, drafts, strict=True):
        location = draft.location
        zone = zoneinfo.ZoneInfo(location.time_zone)
        first = draft.exam + dt.timedelta(days=int(rng.integers(14, 29)))
        days = series_days(first, series.sessions_count, series.pattern)
        if draft.series_end is not None:  # an adopted patient's chosen story
            days = series_days_ending(draft.series_end, series.sessions_count, series.pattern)
            first = days[0]
        block = dt.timedelta(minutes=series.duration_min + series.recovery_min)
        last_done: dt.date | None = None
        for day in days:
            provider, offset = run.nurses.slot(
                day, series.duration_min + series.recovery_min, location.time_zone
            )
            start = dt.datetime.combine(day, FIRST_SLOT, tzinfo=zone) + dt.timedelta(minutes=offset)
            no_show = rng.random() < NO_SHOW_P
            appointment = Appointment(
                public_id=seed_uuid(rng, run.namespace),
                clinic=run.clinic,
                location=location,
                provider=provider,
                patient=patient,
                type=run.infusion_type,
                start=start,
                end=start + dt.timedelta(minutes=series.duration_min),
                block_end=start + block,
                status=AppointmentStatus.NO_SHOW if no_show else AppointmentStatus.COMPLETED,
                booked_by=run.physician,
                series=series,
            )
            appointments.append(appointment)
            if no_show:
                summary.no_shows += 1
            else:
                completed.append((appointment, draft))
                last_done = day
        series_end = last_done or days[-1]
        responder = draft.reduction >= 0.3
        summary.responders += int(responder)
        entries.extend(
            _diary(run, patient, draft, first=first, series_end=series_end, responder=responder)
        )

    sessions = []
    sign_before = run.end - dt.timedelta(days=UNSIGNED_DAYS)
    for appointment, draft in completed:
        template = draft.template
        sessions.append(
            InfusionSession(
                public_id=seed_uuid(rng, run.namespace),
                clinic=run.clinic,
                location=appointment.location,
                patient=appointment.patient,
                plan=appointment.series.plan if appointment.series else None,
                appointment=appointment,
                status=SessionStatus.DISCHARGED,
                arrived_at=appointment.start,
                arrived_by=appointment.provider,
                started_at=appointment.start,
                ended_at=appointment.end,
                plan_duration_min=template.duration_min,
                # The whole planned dose ran at the plan's rate, then the pump stopped: the
                # running total the letter and chart read is the plan's total.
                plan_rate_mg_per_h=draft.rate_mg_per_h,
                plan_total_mg=draft.total_mg,
                dosing_weight_kg=draft.weight,
                concentration_mg_per_ml=template.concentration_mg_per_ml,
                given_before_mg=draft.total_mg,
                current_rate_mg_per_h=0.0,
                rate_since=appointment.end,
                discharged_at=appointment.block_end,
                discharged_by=appointment.provider,
                # The physician signs a session within days: only the last week's wait for it.
                **(
                    {"signed_by": run.physician, "signed_at": appointment.block_end}
                    if appointment.start.date() < sign_before
                    else {}
                ),
            )
        )
    events = []
    for session in sessions:
        if rng.random() < ADVERSE_EVENT_P:
            events.append(
                AdverseEvent(
                    # From the session's id, not a draw: the generator's later draws stay as
                    # they were, and a seed still gives the same ids every time.
                    public_id=uuid.uuid5(run.namespace, f"adverse-event {session.public_id}"),
                    session=session,
                    kind=AE_KINDS[int(rng.integers(len(AE_KINDS)))],
                    severity=Severity.MILD if rng.random() < 0.8 else Severity.MODERATE,
                    onset_at=session.arrived_at + dt.timedelta(minutes=20),
                    interventions=[],
                    outcome=Outcome.RESOLVED,
                    recorded_by=session.arrived_by,
                )
            )
    write_chunked(Appointment, appointments)
    write_chunked(InfusionSession, sessions)
    write_chunked(AdverseEvent, events)
    for part in chunks(entries):
        with transaction.atomic():
            copy_rows(DiaryEntry, DIARY_FIELDS, part)

    summary.series += len(series_rows)
    summary.appointments += len(appointments)
    summary.sessions += len(sessions)
    summary.adverse_events += len(events)
    summary.diary_entries += len(entries)
    return appointments, sessions


def _diary(
    run: SeedRun,
    patient: Patient,
    draft: PatientDraft,
    *,
    first: dt.date,
    series_end: dt.date,
    responder: bool,
) -> list[tuple[object, ...]]:
    """The patient's daily NRS from ``BASELINE_DAYS`` before the series to the end of follow-up:
    the baseline, partly relieved during the series, relieved after it, then for responders a
    relapse once the relief has lasted its drawn number of days. Rows of ``DIARY_FIELDS``,
    computed with numpy over the whole diary (the same draws and arithmetic as day by day)."""
    diary_last = min(run.end, series_end + dt.timedelta(days=draft.followup_days))
    day = first - dt.timedelta(days=BASELINE_DAYS)
    missing = run.rng.random((diary_last - day).days + 1) < MISSING_DAY_P
    noise = run.rng.normal(0.0, 0.8, missing.size)
    offsets = np.arange(missing.size)
    after = offsets - (series_end - day).days  # days since the series ended (> 0 after it)
    during = offsets >= (first - day).days
    relieved = draft.baseline * (1.0 - draft.reduction)
    level = np.full(missing.size, draft.baseline)
    level[during] = draft.baseline * (1.0 - 0.3 * draft.reduction)
    later = after > 0
    level[later] = relieved
    if responder:
        # Pain climbs back to about the baseline within a week of the relapse.
        relapsed = later & (after > draft.relief_days)
        climb = np.minimum((after[relapsed] - draft.relief_days) / 7.0, 1.0)
        level[relapsed] = relieved + climb * (0.97 * draft.baseline - relieved)
    values = np.clip(np.round(level + noise), 0, 10).astype(int)
    clinic_id, patient_id = run.clinic.pk, patient.pk
    return [
        (
            uuid.uuid4(),
            clinic_id,
            patient_id,
            Instrument.NRS.value,
            day + dt.timedelta(days=int(offset)),
            f'{{"pain": {value}}}',
            float(value),
            NRS_LOINC,
            EntrySource.PORTAL.value,
        )
        for offset, value in zip(offsets[~missing].tolist(), values[~missing].tolist(), strict=True)
    ]
