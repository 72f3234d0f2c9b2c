"""The assessments app's public face: the eligibility decision in force (gate 1 of
docs/clinical-policy.md "Gates along the journey (added 2026-12-03)"), the exam measurements
that plans and scheduling read, and the codes each measurement is stored under (the FHIR API
maps them).

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.assessments.selectors import (
    ExamMeasurements,
    consultations_of,
    decisions_to_sign,
    eligibility_in_force_for,
    eligibility_in_force_for_patients,
    latest_decision,
    latest_exam_measurements,
    require_eligibility_in_force,
)
from ketaclinic.assessments.services import (
    ExamInput,
    GradeInput,
    HistoryInput,
    consultation_exam_save,
    consultation_grade_save,
    consultation_history_save,
    consultation_start,
)
from ketaclinic.assessments.vocab import EXAM_OBSERVATIONS

__all__ = [
    "EXAM_OBSERVATIONS",
    "ExamInput",
    "ExamMeasurements",
    "GradeInput",
    "HistoryInput",
    "consultation_exam_save",
    "consultation_grade_save",
    "consultation_history_save",
    "consultation_start",
    "consultations_of",
    "decisions_to_sign",
    "eligibility_in_force_for",
    "eligibility_in_force_for_patients",
    "latest_decision",
    "latest_exam_measurements",
    "require_eligibility_in_force",
]
