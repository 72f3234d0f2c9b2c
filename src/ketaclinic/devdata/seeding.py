"""Synthetic clinic data for tests, demos and benchmarks (``ketaclinic seed``).

This is bulk loading of invented patients, not a user action: rows are written with
``bulk_create`` in batches, bypassing the services (no ``full_clean``, no per-row audit event),
because a benchmark needs millions of diary entries in minutes. It must never run against a
clinic's real records: the command refuses production mode unless forced, and every seeded
record is recognisable (record numbers ``S<seed>-...``, e-mail domain ``seed.invalid``).

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``, in a fixed order,
so the same seed, size and end date give the same data (public ids included).

Distributions (plausible, not fitted to any data set):

- causes: diabetic neuropathy 30%, postherpetic neuralgia 15%, multiple sclerosis 10%, nerve
  injury 15%, CRPS 15%, no recorded cause 15%;
- baseline NRS: normal(7, 0.8) clipped to 4-10, the daily diary scattering around it (sd 0.8);
- response to the series, by cause: substantial (50-75% lower), moderate (30-50%) or none
  (0-20%); relief of responders lasts a Weibull(shape 1.4) number of days, scale 45-120 days
  by cause, then pain climbs back to about the baseline within a week;
- each diary day is missing with probability 0.25, and the diary stops 60-300 days after the
  series (or at the end date);
- each infusion appointment is a no-show with probability 0.05, and each completed session has
  an adverse event with probability 0.08.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.assessments.models import (
    Cause,
    Consultation,
    ConsultationStatus,
    DecisionOutcome,
    DecisionStatus,
    EligibilityDecision,
)
from ketaclinic.clinical.eligibility import RULESET_VERSION
from ketaclinic.clinics.models import Clinic, Location, ProtocolTemplate, SeriesPattern
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.infusions.models import (
    AdverseEvent,
    AdverseEventKind,
    InfusionSession,
    Outcome,
    SessionStatus,
    Severity,
)
from ketaclinic.outcomes.durability.services import series_results_refresh
from ketaclinic.outcomes.models import NRS_LOINC, DiaryEntry, EntrySource, Instrument
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    InductionSeries,
)

BATCH_PATIENTS = 250
NO_SHOW_P = 0.05
ADVERSE_EVENT_P = 0.08
MISSING_DAY_P = 0.25
BASELINE_DAYS = 10  # diary days before the first infusion
DAY_MINUTES = 13 * 60  # a seed nurse's day: chair blocks from 08:00 to 21:00 local time
FIRST_SLOT = dt.time(8, 0)


@dataclass(frozen=True)
class SeedCause:
    key: str
    system: str
    code: str
    display: str
    share: float
    # P(substantial), P(moderate); the rest do not respond.
    p_substantial: float
    p_moderate: float
    relief_scale_days: float


CAUSES: tuple[SeedCause, ...] = (
    SeedCause(
        "diabetes", "snomed", "230572002", "Neuropathy due to diabetes mellitus",
        0.30, 0.25, 0.30, 70.0,
    ),
    SeedCause("postherpetic", "snomed", "2177002", "Postherpetic neuralgia",
              0.15, 0.30, 0.30, 90.0),
    SeedCause("ms", "snomed", "24700007", "Multiple sclerosis", 0.10, 0.20, 0.25, 45.0),
    SeedCause("nerve_injury", "icd10cm", "G89.21", "Chronic pain due to trauma",
              0.15, 0.25, 0.30, 60.0),
    SeedCause("crps", "snomed", "128200000", "Complex regional pain syndrome",
              0.15, 0.35, 0.30, 120.0),
    SeedCause("unknown", "", "", "", 0.15, 0.15, 0.25, 50.0),
)  # fmt: skip

GIVEN = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Robin", "Drew")
FAMILY = ("Seedling", "Sample", "Synth", "Example", "Mock", "Trial", "Fixture", "Proxy")
AE_KINDS = (
    AdverseEventKind.DISSOCIATION,
    AdverseEventKind.NAUSEA,
    AdverseEventKind.HYPERTENSION,
    AdverseEventKind.DIZZINESS,
    AdverseEventKind.HEADACHE,
)


@dataclass
class SeedSummary:
    patients: int = 0
    series: int = 0
    appointments: int = 0
    no_shows: int = 0
    sessions: int = 0
    adverse_events: int = 0
    diary_entries: int = 0
    responders: int = 0
    by_cause: dict[str, int] = field(default_factory=dict)


class SeedRefusedError(Exception):
    """The seed cannot run as asked (a message for the operator)."""


def _uuid(rng: np.random.Generator, namespace: uuid.UUID) -> uuid.UUID:
    # Drawn from the generator (deterministic), then mixed with the clinic's namespace: public
    # ids are unique site-wide, so one seed loaded into two clinics must not repeat them.
    return uuid.uuid5(namespace, rng.bytes(16).hex())


class _Providers:
    """Seed nurses, each given back-to-back chair blocks through a ``DAY_MINUTES`` day (the
    database refuses overlapping appointments of one provider)."""

    def __init__(self, clinic: Clinic, seed: int) -> None:
        self.clinic = clinic
        self.seed = seed
        self.users: list[User] = []
        self.used: dict[tuple[int, dt.date], int] = {}

    def _user(self, index: int) -> User:
        while len(self.users) <= index:
            email = f"seed{self.seed}-nurse{len(self.users) + 1}@{self.clinic.slug}.seed.invalid"
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email, None, role=Role.NURSE, clinic=self.clinic, full_name="Seed nurse"
                )
            self.users.append(user)
        return self.users[index]

    def slot(self, day: dt.date, minutes: int) -> tuple[User, int]:
        """A provider and the minute (after ``FIRST_SLOT``) at which a block of ``minutes`` fits."""
        index = 0
        while self.used.get((index, day), 0) + minutes > max(DAY_MINUTES, minutes):
            index += 1
        offset = self.used.get((index, day), 0)
        self.used[(index, day)] = offset + minutes
        return self._user(index), offset


def _weekdays_from(start: dt.date, count: int, pattern: str) -> list[dt.date]:
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        if pattern == SeriesPattern.DAILY:
            days.append(day)
        elif pattern == SeriesPattern.THREE_PER_WEEK:
            if day.weekday() in (0, 2, 4):
                days.append(day)
        elif day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _staff(clinic: Clinic, seed: int) -> User:
    physician = (
        User.objects.filter(clinic=clinic, role=Role.PHYSICIAN, is_active=True)
        .order_by("pk")
        .first()
    )
    if physician is not None:
        return physician
    email = f"seed{seed}-physician@{clinic.slug}.seed.invalid"
    existing = User.objects.filter(email=email).first()
    return existing or User.objects.create_user(
        email, None, role=Role.PHYSICIAN, clinic=clinic, full_name="Seed physician"
    )


def _infusion_type(clinic: Clinic) -> AppointmentType:
    found = (
        AppointmentType.objects.filter(clinic=clinic, kind=AppointmentKind.INFUSION)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found
    return AppointmentType.objects.create(
        clinic=clinic,
        kind=AppointmentKind.INFUSION,
        name="Ketamine infusion",
        duration_min=60,
        provider_role=Role.NURSE,
        needs_chair=True,
    )


def seed_clinic(
    *,
    clinic: Clinic,
    patients: int,
    years: float,
    seed: int,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Write ``patients`` synthetic patients with ``years`` of history ending ``today``.

    ``progress`` is called with the number of patients written after each batch.
    """
    if patients < 1:
        raise SeedRefusedError("--patients must be at least 1.")
    if not 0.25 <= years <= 30:
        raise SeedRefusedError("--years must be between 0.25 and 30.")
    locations = list(Location.objects.filter(clinic=clinic).order_by("pk"))
    if not locations:
        raise SeedRefusedError(f"Clinic {clinic.slug} has no location to seed infusions at.")
    templates = list(
        ProtocolTemplate.objects.filter(clinic=clinic, is_active=True).order_by("name", "pk")
    )
    if not templates:
        raise SeedRefusedError(f"Clinic {clinic.slug} has no active protocol template.")
    prefix = f"S{seed}-"
    if Patient.objects.filter(clinic=clinic, mrn__startswith=prefix).exists():
        raise SeedRefusedError(
            f"Clinic {clinic.slug} already holds patients seeded with --seed {seed}; "
            "use another seed."
        )

    rng = np.random.default_rng(seed)
    today = today or timezone.localdate()
    judged_at = dt.datetime.combine(today, dt.time(12, 0), tzinfo=dt.UTC)
    end = today - dt.timedelta(days=1)
    first_day = end - dt.timedelta(days=round(years * 365))
    span_days = max((end - first_day).days - 60, 1)
    physician = _staff(clinic, seed)
    infusion_type = _infusion_type(clinic)
    policy = clinic_policy_current(clinic_id=clinic.pk)
    providers = _Providers(clinic, seed)
    shares = np.array([c.share for c in CAUSES])
    summary = SeedSummary()

    for batch_start in range(0, patients, BATCH_PATIENTS):
        count = min(BATCH_PATIENTS, patients - batch_start)
        with transaction.atomic():
            patient_ids = _seed_batch(
                rng=rng,
                clinic=clinic,
                numbers=range(batch_start, batch_start + count),
                prefix=prefix,
                first_day=first_day,
                span_days=span_days,
                end=end,
                locations=locations,
                templates=templates,
                physician=physician,
                infusion_type=infusion_type,
                policy_version=policy.version,
                recovery_min=policy.recovery_min,
                providers=providers,
                shares=shares,
                summary=summary,
            )
            # The analytics read stored series results: judge the new patients as the chart
            # would, on the day the history ends.
            series_results_refresh(clinic=clinic, patient_ids=patient_ids, now=judged_at)
        summary.patients += count
        if progress is not None:
            progress(count)
    return summary


def _seed_batch(
    *,
    rng: np.random.Generator,
    clinic: Clinic,
    numbers: range,
    prefix: str,
    first_day: dt.date,
    span_days: int,
    end: dt.date,
    locations: list[Location],
    templates: list[ProtocolTemplate],
    physician: User,
    infusion_type: AppointmentType,
    policy_version: int,
    recovery_min: int,
    providers: _Providers,
    shares: Any,
    summary: SeedSummary,
) -> list[int]:
    now = timezone.now()
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"ketaclinic-seed:{clinic.slug}")
    drafts: list[dict[str, Any]] = []
    patient_rows: list[Patient] = []
    for number in numbers:
        cause = CAUSES[int(rng.choice(len(CAUSES), p=shares))]
        location = locations[int(rng.integers(len(locations)))]
        registered = first_day + dt.timedelta(days=int(rng.integers(span_days)))
        baseline = float(np.clip(rng.normal(7.0, 0.8), 4.0, 10.0))
        draw = rng.random()
        if draw < cause.p_substantial:
            reduction = rng.uniform(0.5, 0.75)
        elif draw < cause.p_substantial + cause.p_moderate:
            reduction = rng.uniform(0.3, 0.5)
        else:
            reduction = rng.uniform(0.0, 0.2)
        drafts.append(
            {
                "cause": cause,
                "location": location,
                "registered": registered,
                "baseline": baseline,
                "reduction": float(reduction),
                "relief_days": float(cause.relief_scale_days * rng.weibull(1.4)),
                "followup_days": int(rng.integers(60, 300)),
                "template": templates[int(rng.integers(len(templates)))],
                "weight": float(np.clip(rng.normal(80.0, 15.0), 45.0, 160.0)),
            }
        )
        summary.by_cause[cause.key] = summary.by_cause.get(cause.key, 0) + 1
        patient_rows.append(
            Patient(
                clinic=clinic,
                home_location=location,
                public_id=_uuid(rng, namespace),
                mrn=f"{prefix}{number + 1:07d}",
                given_name=GIVEN[int(rng.integers(len(GIVEN)))],
                family_name=FAMILY[int(rng.integers(len(FAMILY)))],
                date_of_birth=dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(20000))),
                sex="female" if rng.random() < 0.6 else "male",
                email=f"{prefix.lower()}{number + 1}@seed.invalid",
            )
        )
    Patient.objects.bulk_create(patient_rows)

    consultations = []
    for patient, draft in zip(patient_rows, drafts, strict=True):
        exam = draft["registered"] + dt.timedelta(days=int(rng.integers(0, 14)))
        draft["exam"] = exam
        consultations.append(
            Consultation(
                public_id=_uuid(rng, namespace),
                clinic=clinic,
                patient=patient,
                exam_date=exam,
                status=ConsultationStatus.SIGNED,
                pain_nrs=round(draft["baseline"]),
                pain_duration_months=float(rng.integers(6, 120)),
                weight_kg=round(draft["weight"], 1),
                height_cm=float(rng.integers(150, 195)),
                created_by=physician,
                signed_by=physician,
                signed_at=now,
            )
        )
    Consultation.objects.bulk_create(consultations)
    # Every seeded patient was treated, so each exam ended in a signed "eligible" decision: the
    # eligibility gate (clinical.gates) then holds for seeded patients as for real ones, and a
    # booster for a patient whose exam is over a year old asks for a new exam, as it should.
    policy_version = clinic_policy_current(clinic_id=clinic.pk).version
    EligibilityDecision.objects.bulk_create(
        EligibilityDecision(
            # Derived from the consultation's id, not drawn: the generator's sequence (and so
            # every seeded figure after this point) stays what it was before decisions existed.
            public_id=uuid.uuid5(namespace, f"decision-{consultation.public_id}"),
            consultation=consultation,
            clinic=clinic,
            patient=consultation.patient,
            outcome=DecisionOutcome.ELIGIBLE,
            ruleset_version=RULESET_VERSION,
            policy_version=policy_version,
            evaluated_at=now,
            status=DecisionStatus.SIGNED,
            final_outcome=DecisionOutcome.ELIGIBLE,
            signed_by=physician,
            signed_at=now,
        )
        for consultation in consultations
    )
    Cause.objects.bulk_create(
        Cause(
            consultation=consultation,
            system=draft["cause"].system,
            code=draft["cause"].code,
            display=draft["cause"].display,
        )
        for consultation, draft in zip(consultations, drafts, strict=True)
        if draft["cause"].code
    )

    plans = [
        Plan(
            public_id=_uuid(rng, namespace),
            clinic=clinic,
            patient=patient,
            number=1,
            status=PlanStatus.SIGNED,
            created_by=physician,
            signed_by=physician,
            signed_at=now,
        )
        for patient in patient_rows
    ]
    Plan.objects.bulk_create(plans)
    protocols = []
    for plan, draft in zip(plans, drafts, strict=True):
        template: ProtocolTemplate = draft["template"]
        weight = draft["weight"]
        total = (
            template.dose_mg_per_kg * weight
            if template.dose_mg_per_kg is not None
            else float(template.fixed_dose_mg or 50.0)
        )
        rate = total / template.duration_min * 60.0
        draft["total_mg"], draft["rate_mg_per_h"] = total, rate
        protocols.append(
            KetamineProtocol(
                plan=plan,
                template=template,
                template_name=template.name,
                source=template.source,
                weight_kg=weight,
                height_cm=170.0,
                sex="female",
                dosing_basis=template.dosing_basis,
                dose_mg_per_kg=template.dose_mg_per_kg,
                fixed_dose_mg=template.fixed_dose_mg,
                duration_min=template.duration_min,
                rate_cap_mg_per_h=template.rate_cap_mg_per_h,
                template_version=template.version,
                concentration_mg_per_ml=template.concentration_mg_per_ml,
                sessions_count=template.sessions_count,
                pattern=template.pattern,
                dosing_weight_kg=weight,
                total_mg=total,
                rate_mg_per_h=rate,
                rate_ml_per_h=rate / template.concentration_mg_per_ml,
                volume_ml=total / template.concentration_mg_per_ml,
                policy_version=policy_version,
                policy_values={},
            )
        )
    KetamineProtocol.objects.bulk_create(protocols)

    series_rows = []
    for patient, plan, draft in zip(patient_rows, plans, drafts, strict=True):
        template = draft["template"]
        series_rows.append(
            InductionSeries(
                public_id=_uuid(rng, namespace),
                clinic=clinic,
                patient=patient,
                location=draft["location"],
                plan=plan,
                pattern=template.pattern,
                sessions_count=min(template.sessions_count, 10),
                duration_min=template.duration_min,
                recovery_min=recovery_min,
                policy_version=policy_version,
                created_by=physician,
            )
        )
    InductionSeries.objects.bulk_create(series_rows)

    appointments: list[Appointment] = []
    completed: list[tuple[Appointment, dict[str, Any]]] = []
    entries: list[DiaryEntry] = []
    for patient, series, draft in zip(patient_rows, series_rows, drafts, strict=True):
        location = draft["location"]
        zone = zoneinfo.ZoneInfo(location.time_zone)
        first = draft["exam"] + dt.timedelta(days=int(rng.integers(14, 29)))
        days = _weekdays_from(first, series.sessions_count, series.pattern)
        block = dt.timedelta(minutes=series.duration_min + series.recovery_min)
        last_done: dt.date | None = None
        for day in days:
            provider, offset = providers.slot(day, series.duration_min + series.recovery_min)
            start = dt.datetime.combine(day, FIRST_SLOT, tzinfo=zone) + dt.timedelta(minutes=offset)
            no_show = rng.random() < NO_SHOW_P
            appointment = Appointment(
                public_id=_uuid(rng, namespace),
                clinic=clinic,
                location=location,
                provider=provider,
                patient=patient,
                type=infusion_type,
                start=start,
                end=start + dt.timedelta(minutes=series.duration_min),
                block_end=start + block,
                status=AppointmentStatus.NO_SHOW if no_show else AppointmentStatus.COMPLETED,
                booked_by=physician,
                series=series,
            )
            appointments.append(appointment)
            if no_show:
                summary.no_shows += 1
            else:
                completed.append((appointment, draft))
                last_done = day
        series_end = last_done or days[-1]
        responder = draft["reduction"] >= 0.3
        summary.responders += int(responder)
        diary_last = min(end, series_end + dt.timedelta(days=draft["followup_days"]))
        day = first - dt.timedelta(days=BASELINE_DAYS)
        missing = rng.random((diary_last - day).days + 1) < MISSING_DAY_P
        noise = rng.normal(0.0, 0.8, missing.size)
        for offset in range(missing.size):
            if missing[offset]:
                continue
            current = day + dt.timedelta(days=offset)
            level = draft["baseline"]
            if current > series_end:
                since = (current - series_end).days
                relieved = draft["baseline"] * (1.0 - draft["reduction"])
                if not responder or since <= draft["relief_days"]:
                    level = relieved
                else:
                    # Pain climbs back to about the baseline within a week of the relapse.
                    climb = min((since - draft["relief_days"]) / 7.0, 1.0)
                    level = relieved + climb * (0.97 * draft["baseline"] - relieved)
            elif current >= first:
                level = draft["baseline"] * (1.0 - 0.3 * draft["reduction"])
            value = int(np.clip(round(level + noise[offset]), 0, 10))
            entries.append(
                DiaryEntry(
                    clinic=clinic,
                    patient=patient,
                    instrument=Instrument.NRS,
                    entry_date=current,
                    answers={"nrs": value},
                    score=float(value),
                    loinc=NRS_LOINC,
                    source=EntrySource.PORTAL,
                )
            )
    Appointment.objects.bulk_create(appointments)

    sessions = []
    for appointment, draft in completed:
        template = draft["template"]
        sessions.append(
            InfusionSession(
                public_id=_uuid(rng, namespace),
                clinic=clinic,
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
                plan_rate_mg_per_h=draft["rate_mg_per_h"],
                plan_total_mg=draft["total_mg"],
                dosing_weight_kg=draft["weight"],
                concentration_mg_per_ml=template.concentration_mg_per_ml,
                given_before_mg=draft["total_mg"],
                current_rate_mg_per_h=0.0,
                rate_since=appointment.end,
                discharged_at=appointment.block_end,
                discharged_by=appointment.provider,
            )
        )
    InfusionSession.objects.bulk_create(sessions)
    events = []
    for session in sessions:
        if rng.random() < ADVERSE_EVENT_P:
            events.append(
                AdverseEvent(
                    session=session,
                    kind=AE_KINDS[int(rng.integers(len(AE_KINDS)))],
                    severity=Severity.MILD if rng.random() < 0.8 else Severity.MODERATE,
                    onset_at=session.arrived_at + dt.timedelta(minutes=20),
                    interventions=[],
                    outcome=Outcome.RESOLVED,
                    recorded_by=session.arrived_by,
                )
            )
    AdverseEvent.objects.bulk_create(events)
    DiaryEntry.objects.bulk_create(entries, batch_size=5000)

    summary.series += len(series_rows)
    summary.appointments += len(appointments)
    summary.sessions += len(sessions)
    summary.adverse_events += len(events)
    summary.diary_entries += len(entries)
    return [patient.pk for patient in patient_rows]
