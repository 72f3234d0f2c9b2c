"""Writes to consultations and eligibility decisions: one transaction each, audited in it.

One module per part of the record: ``consultation`` (open it, save its history, exam and grade,
add addenda once signed), ``evaluation`` (the engine's decision kept current on every draft save)
and ``decision`` (the physician signs, overrides or re-evaluates it; signing locks decision and
consultation together). ``_common`` holds the locked draft they all write through. Callers import
from here.
"""

from ketaclinic.assessments.services._common import ConsultationLockedError
from ketaclinic.assessments.services.consultation import (
    ExamInput,
    GradeInput,
    HistoryInput,
    addendum_add,
    consultation_exam_save,
    consultation_grade_save,
    consultation_history_save,
    consultation_start,
)
from ketaclinic.assessments.services.decision import (
    decision_override,
    decision_reevaluate,
    decision_sign,
)
from ketaclinic.assessments.services.evaluation import age_on, reason_threshold

__all__ = [
    "ConsultationLockedError",
    "ExamInput",
    "GradeInput",
    "HistoryInput",
    "addendum_add",
    "age_on",
    "consultation_exam_save",
    "consultation_grade_save",
    "consultation_history_save",
    "consultation_start",
    "decision_override",
    "decision_reevaluate",
    "decision_sign",
    "reason_threshold",
]
