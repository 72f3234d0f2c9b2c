"""Consultations and eligibility decisions, two ways: straight in the database (an exam that
measured the patient, a decision as a physician signed it) for tests about something else, and
through the assessments services (a draft with a complete history and exam, a signed one) for
tests about the consultation itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.assessments import services
from ketaclinic.assessments.models import (
    Consultation,
    ConsultationStatus,
    DecisionStatus,
    EligibilityDecision,
)
from ketaclinic.assessments.services import ExamInput, GradeInput, HistoryInput
from ketaclinic.audit.services import Actor
from ketaclinic.clinical.eligibility import RULESET_VERSION
from ketaclinic.clinical.instruments import REGISTRY
from ketaclinic.patients.models import Patient
from tests.factories import base
from tests.factories.world import World

# --- straight in the database ------------------------------------------------------------------


def make_consultation(
    patient: Patient,
    physician: User,
    *,
    exam_date: dt.date | None = None,
    weight_kg: float = 70.0,
    height_cm: float = 170.0,
    signed_at: dt.datetime | None = None,
    **fields: Any,
) -> Consultation:
    """An exam that measured the patient (the dose is computed on the newest one): a draft, or
    signed by ``physician`` at ``signed_at``."""
    return Consultation.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        exam_date=exam_date or timezone.localdate(),
        status=ConsultationStatus.SIGNED if signed_at else ConsultationStatus.DRAFT,
        weight_kg=weight_kg,
        height_cm=height_cm,
        created_by=physician,
        signed_by=physician if signed_at else None,
        signed_at=signed_at,
        **fields,
    )


def measured(
    world: World,
    patient: Patient | None = None,
    *,
    weight_kg: float = 70.0,
    height_cm: float = 170.0,
    exam_date: dt.date | None = None,
) -> Consultation:
    """An exam (a draft consultation, no eligibility decision) that measured the patient: the
    dose is computed on the newest one."""
    return make_consultation(
        patient or world.alice_patient,
        world.physician,
        exam_date=exam_date,
        weight_kg=weight_kg,
        height_cm=height_cm,
    )


def make_decision(
    patient: Patient,
    physician: User,
    *,
    outcome: str = "eligible",
    final: str | None = None,
    exam_date: dt.date | None = None,
    override_reason: str = "",
    signed: bool = True,
    weight_kg: float = 70.0,
    height_cm: float = 170.0,
    reasons: tuple[str, ...] = (),
) -> EligibilityDecision:
    """A consultation with its eligibility decision, as a physician would have signed it.

    ``final`` differs from ``outcome`` for an override (then ``override_reason`` is needed);
    ``signed=False`` leaves a draft. The exam records the weight and height the plan uses.
    """
    now = timezone.now()
    final = outcome if final is None else final
    consultation = make_consultation(
        patient,
        physician,
        exam_date=exam_date,
        weight_kg=weight_kg,
        height_cm=height_cm,
        signed_at=now if signed else None,
        pain_nrs=7,
        pain_duration_months=18.0,
    )
    if not signed:
        status = DecisionStatus.DRAFT
    elif final != outcome:
        status = DecisionStatus.OVERRIDDEN
    else:
        status = DecisionStatus.SIGNED
    return EligibilityDecision.objects.create(
        consultation=consultation,
        clinic_id=patient.clinic_id,
        patient=patient,
        outcome=outcome,
        reasons=[
            {"code": f"reason_{i}", "outcome": outcome, "message": text, "source": "test"}
            for i, text in enumerate(reasons)
        ],
        ruleset_version=RULESET_VERSION,
        policy_version=1,
        evaluated_at=now,
        status=status,
        final_outcome=final if signed else "",
        override_reason=override_reason,
        signed_by=physician if signed else None,
        signed_at=now if signed else None,
    )


def ensure_eligible(patient: Patient, physician: User, *, exam_date: dt.date | None = None) -> None:
    """Give the patient a signed "eligible" decision unless one is already on record.

    ``exam_date`` places the exam near a test's own clock (a test that books in 2030 needs an
    exam from then: an exam more than 12 months before its "now" is no longer in force).
    """
    if not EligibilityDecision.objects.filter(patient=patient, final_outcome="eligible").exists():
        make_decision(patient, physician, exam_date=exam_date)


# --- through the services ----------------------------------------------------------------------

DN4_ALL_NO = dict.fromkeys(REGISTRY["dn4"].item_keys, False)
# Two first-line classes failed or not tolerated: the rules find the patient eligible.
FIRST_LINE_EXHAUSTED = {"gabapentin": "failed", "duloxetine": "intolerant"}


def history(**overrides: Any) -> HistoryInput:
    values: dict[str, Any] = {
        "pain_duration_months": 18.0,
        "pain_nrs": 7,
        "pain_regions": ["lower_limb_left", "lower_limb_right"],
        "pain_descriptors": ["burning", "electric"],
        "causes": ["snomed|230572002", "icd10cm|E11.42"],
        # One first-line class failed: the rules ask for a review.
        "prior_treatments": {"gabapentin": "failed", "otc_analgesics": "partial"},
        "conditions": [],
        "history_notes": "Burning feet for 18 months.",
    }
    values.update(overrides)
    return HistoryInput(**values)


def exam(**overrides: Any) -> ExamInput:
    values: dict[str, Any] = {
        "systolic_bp": 128,
        "diastolic_bp": 82,
        "heart_rate": 72,
        "spo2": 98,
        "weight_kg": 82.5,
        "height_cm": 178.0,
        "respiratory_rate": 14,
        "temperature_c": 36.8,
        "sensory_signs": ["pinprick_hypoesthesia"],
        "exam_notes": "",
        "dn4": {
            **DN4_ALL_NO,
            "burning": True,
            "electric_shocks": True,
            "numbness": True,
            "pinprick_hypoesthesia": True,
            "brushing": True,
        },
    }
    values.update(overrides)
    return ExamInput(**values)


def grade(**overrides: Any) -> GradeInput:
    values: dict[str, Any] = {
        "history": True,
        "plausible_distribution": True,
        "sensory_signs": True,
        "confirmatory_test": False,
    }
    values.update(overrides)
    return GradeInput(**values)


def actor(world: World, persona: str = "physician") -> Actor:
    return base.actor(world.persona(persona))


def start(world: World, patient: Patient | None = None, **kwargs: Any) -> Consultation:
    patient = patient or world.alice_patient
    return services.consultation_start(
        actor=actor(world), patient_public_id=str(patient.public_id), **kwargs
    )


def complete(
    world: World,
    patient: Patient | None = None,
    *,
    history_input: HistoryInput | None = None,
    exam_input: ExamInput | None = None,
) -> Consultation:
    """A draft with history, exam and grade recorded, so its decision exists."""
    c = start(world, patient)
    c = services.consultation_history_save(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=c.version,
        history=history_input or history(),
    )
    c = services.consultation_exam_save(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=c.version,
        exam=exam_input or exam(),
    )
    return services.consultation_grade_save(
        actor=actor(world), public_id=str(c.public_id), expected_version=c.version, grade=grade()
    )


def signed(world: World, patient: Patient | None = None, *, eligible: bool = False) -> Consultation:
    """A signed consultation: the default history asks for review; ``eligible`` gives a history
    the rules find eligible (two first-line classes tried), as a plan with ketamine needs."""
    treatments = history(prior_treatments=FIRST_LINE_EXHAUSTED) if eligible else None
    c = complete(world, patient, history_input=treatments)
    services.decision_sign(
        actor=actor(world), public_id=str(c.public_id), expected_version=c.version
    )
    c.refresh_from_db()
    return c
