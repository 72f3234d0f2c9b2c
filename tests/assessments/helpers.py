"""Consultation fixtures: a draft with a complete history and exam, in one call."""

from __future__ import annotations

from typing import Any

from ketaclinic.assessments import services
from ketaclinic.assessments.models import Consultation
from ketaclinic.assessments.services import ExamInput, GradeInput, HistoryInput
from ketaclinic.audit.services import Actor
from ketaclinic.clinical.instruments import REGISTRY
from ketaclinic.patients.models import Patient
from tests.conftest import World

DN4_ALL_NO = dict.fromkeys(REGISTRY["dn4"].item_keys, False)


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
    return Actor(user=world.persona(persona), ip="127.0.0.1")


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


# Two first-line classes failed or not tolerated: the rules find the patient eligible.
FIRST_LINE_EXHAUSTED = {"gabapentin": "failed", "duloxetine": "intolerant"}


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
