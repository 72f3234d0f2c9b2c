"""The records of a seeded batch up to the booked series: patients, signed consultations with
their eligible decisions and causes, signed plans with their protocols, and induction series.

Separate from ``history.py`` (what then happened: sessions, no-shows, diaries): these rows are
what a clinic has written before the first infusion, and the history is read from them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from ketaclinic.assessments.models import (
    Cause,
    Consultation,
    ConsultationStatus,
    DecisionOutcome,
    DecisionStatus,
    EligibilityDecision,
)
from ketaclinic.clinical.eligibility import RULESET_VERSION
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import ProtocolTemplate
from ketaclinic.devdata.seeding.bulk import write_chunked
from ketaclinic.devdata.seeding.population import (
    PatientDraft,
    SeedRun,
    SeedSummary,
    draw_patient,
    seed_uuid,
)
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from ketaclinic.scheduling.models import InductionSeries


def _signed_on(exam: dt.date) -> dt.datetime:
    """The physician signs the exam, its decision and the plan at the end of the exam's day (in
    the afternoon in the Americas), well before the first infusion."""
    return dt.datetime.combine(exam, dt.time(21, 0), tzinfo=dt.UTC)


def write_records(
    run: SeedRun, *, numbers: range, now: dt.datetime, summary: SeedSummary
) -> tuple[list[Patient], list[PatientDraft], list[InductionSeries]]:
    """The batch's patients (numbered ``numbers``), their drafts and their series: all drawn
    first, then written in short transactions."""
    rng, clinic, namespace = run.rng, run.clinic, run.namespace
    drafts: list[PatientDraft] = []
    patient_rows: list[Patient] = []
    for number in numbers:
        draft = draw_patient(
            rng,
            shares=run.shares,
            first_day=run.first_day,
            span_days=run.span_days,
            locations=run.locations,
            templates=run.templates,
        )
        drafts.append(draft)
        summary.by_cause[draft.cause.key] = summary.by_cause.get(draft.cause.key, 0) + 1
        given, family = run.given_names, run.family_names
        drawn = Patient(
            clinic=clinic,
            home_location=draft.location,
            public_id=seed_uuid(rng, namespace),
            mrn=f"{run.prefix}{number + 1:07d}",
            given_name=given[int(rng.integers(len(given)))],
            family_name=family[int(rng.integers(len(family)))],
            date_of_birth=dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(20000))),
            sex="female" if rng.random() < 0.6 else "male",
            email=f"{run.prefix.lower()}{number + 1}@seed.invalid",
        )
        profile = run.adopted.get(number)
        if profile is not None:
            profile.apply(draft)
            patient_rows.append(profile.patient)
        else:
            patient_rows.append(drawn)

    consultations = []
    for patient, draft in zip(patient_rows, drafts, strict=True):
        exam = draft.registered + dt.timedelta(days=int(rng.integers(0, 14)))
        draft.exam = exam
        consultations.append(
            Consultation(
                public_id=seed_uuid(rng, namespace),
                clinic=clinic,
                patient=patient,
                exam_date=exam,
                status=ConsultationStatus.SIGNED,
                pain_nrs=round(draft.baseline),
                pain_duration_months=float(rng.integers(6, 120)),
                weight_kg=round(draft.weight, 1),
                height_cm=float(rng.integers(150, 195)),
                created_by=run.physician,
                signed_by=run.physician,
                signed_at=_signed_on(exam),
            )
        )
    # Every seeded patient was treated, so each exam ended in a signed "eligible" decision: the
    # eligibility gate (clinical.gates) then holds for seeded patients as for real ones, and a
    # booster for a patient whose exam is over a year old asks for a new exam, as it should.
    policy_version = clinic_policy_current(clinic_id=clinic.pk).version
    decisions = [
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
            evaluated_at=consultation.signed_at or now,
            status=DecisionStatus.SIGNED,
            final_outcome=DecisionOutcome.ELIGIBLE,
            signed_by=run.physician,
            signed_at=consultation.signed_at,
        )
        for consultation in consultations
    ]
    causes = [
        Cause(
            consultation=consultation,
            system=draft.cause.system,
            code=draft.cause.code,
            display=draft.cause.display,
        )
        for consultation, draft in zip(consultations, drafts, strict=True)
        if draft.cause.code
    ]
    plans, protocols = _draw_plans(run, patient_rows, drafts, policy_version=policy_version)

    series_rows = []
    for patient, plan, draft in zip(patient_rows, plans, drafts, strict=True):
        template = draft.template
        series_rows.append(
            InductionSeries(
                public_id=seed_uuid(rng, namespace),
                clinic=clinic,
                patient=patient,
                location=draft.location,
                plan=plan,
                pattern=template.pattern,
                sessions_count=min(template.sessions_count, 10),
                duration_min=template.duration_min,
                recovery_min=run.recovery_min,
                policy_version=policy_version,
                created_by=run.physician,
            )
        )
    # Drawn first, written after, parents before children, each table in short transactions
    # (``bulk.py``): bulk_create takes a parent's id once the parent is saved.
    write_chunked(Patient, [p for p in patient_rows if p.pk is None])
    write_chunked(Consultation, consultations)
    write_chunked(EligibilityDecision, decisions)
    write_chunked(Cause, causes)
    write_chunked(Plan, plans)
    write_chunked(KetamineProtocol, protocols)
    write_chunked(InductionSeries, series_rows)
    return patient_rows, drafts, series_rows


def _draw_plans(
    run: SeedRun,
    patients: list[Patient],
    drafts: list[PatientDraft],
    *,
    policy_version: int,
) -> tuple[list[Plan], list[KetamineProtocol]]:
    """A signed plan per patient, its protocol computed from the drafted template and weight
    (not yet written)."""
    plans = [
        Plan(
            public_id=seed_uuid(run.rng, run.namespace),
            clinic=run.clinic,
            patient=patient,
            number=1,
            status=PlanStatus.SIGNED,
            created_by=run.physician,
            signed_by=run.physician,
            signed_at=_signed_on(draft.exam),
        )
        for patient, draft in zip(patients, drafts, strict=True)
    ]
    protocols = []
    for plan, draft in zip(plans, drafts, strict=True):
        template: ProtocolTemplate = draft.template
        weight = draft.weight
        total = (
            template.dose_mg_per_kg * weight
            if template.dose_mg_per_kg is not None
            else float(template.fixed_dose_mg or 50.0)
        )
        rate = total / template.duration_min * 60.0
        draft.total_mg, draft.rate_mg_per_h = total, rate
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
    return plans, protocols
