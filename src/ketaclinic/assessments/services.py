"""Writes to consultations and eligibility decisions: one transaction each, audited in it.

Every save of a draft re-evaluates the eligibility decision (``clinical.eligibility.evaluate``
under the clinic's current policy) as soon as the facts it needs are recorded, so the page always
shows the decision the current record gives. Signing or overriding freezes decision and
consultation together; after that only addenda may be added.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.assessments.access import access_consultation, can_write
from ketaclinic.assessments.models import (
    Addendum,
    Cause,
    Consultation,
    ConsultationStatus,
    DecisionOutcome,
    DecisionStatus,
    EligibilityDecision,
    Observation,
    PriorTreatment,
)
from ketaclinic.assessments.vocab import EXAM_OBSERVATIONS
from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinical import codes, gates
from ketaclinic.clinical.eligibility import (
    CONDITIONS,
    FIRST_LINE_CLASSES,
    RULES,
    THERAPIES,
    THERAPY_OUTCOMES,
    EligibilityPolicy,
    PatientFacts,
    evaluate,
)
from ketaclinic.clinical.grading import neuropathic_grade
from ketaclinic.clinical.instruments import InvalidAnswers, score
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.patients.access import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment


class ConsultationLockedError(ValidationError):
    """A signed consultation is read-only: corrections are addenda."""

    def __init__(self, consultation: Consultation) -> None:
        when = f" on {consultation.signed_at:%Y-%m-%d}" if consultation.signed_at else ""
        super().__init__(
            f"This consultation was signed{when} and is locked: it cannot be edited. "
            "Add an addendum to correct or complete it.",
            code="locked",
        )


@dataclass(frozen=True)
class HistoryInput:
    pain_duration_months: float | None
    pain_nrs: int | None = None
    pain_regions: Sequence[str] = ()
    pain_descriptors: Sequence[str] = ()
    # Each "system|code" (``clinical.codes.Code.key``), SNOMED CT or ICD-10-CM.
    causes: Sequence[str] = ()
    # Therapy code (clinical.eligibility.THERAPIES) -> outcome (THERAPY_OUTCOMES).
    prior_treatments: Mapping[str, str] = field(default_factory=dict)
    conditions: Sequence[str] = ()
    history_notes: str = ""


@dataclass(frozen=True)
class ExamInput:
    systolic_bp: int | None
    diastolic_bp: int | None
    heart_rate: int | None
    spo2: int | None
    weight_kg: float | None
    height_cm: float | None
    respiratory_rate: int | None = None
    temperature_c: float | None = None
    sensory_signs: Sequence[str] = ()
    exam_notes: str = ""
    # The ten DN4 items (instruments REGISTRY "dn4"), or None when the DN4 was not done.
    dn4: Mapping[str, bool] | None = None


@dataclass(frozen=True)
class GradeInput:
    history: bool
    plausible_distribution: bool
    sensory_signs: bool
    confirmatory_test: bool
    confirmatory_test_note: str = ""


# --- helpers ---------------------------------------------------------------------------------


def _writer(actor: Actor) -> User:
    user = actor.user
    if user is None or not can_write(user):
        raise Http404("No such consultation")
    return user


def _locked_draft(actor: Actor, public_id: str, expected_version: int) -> Consultation:
    """The consultation, row-locked, refused if signed or if the form was stale."""
    found = access_consultation(_writer(actor), public_id, for_write=True)
    # Lock the row so two saves cannot both pass the version check.
    consultation = (
        Consultation.objects.select_for_update().select_related("patient").get(pk=found.pk)
    )
    if consultation.status != ConsultationStatus.DRAFT:
        raise ConsultationLockedError(consultation)
    if consultation.version != expected_version:
        raise StaleObjectError("consultation")
    return consultation


def _save(consultation: Consultation) -> None:
    consultation.full_clean()
    consultation.version = F("version") + 1
    consultation.save()
    consultation.refresh_from_db()


def _local_today(patient: Patient) -> dt.date:
    # The clinic's day, not the server's: a late-evening visit must not date itself tomorrow.
    if patient.home_location is not None:
        return timezone.now().astimezone(zoneinfo.ZoneInfo(patient.home_location.time_zone)).date()
    return timezone.localdate()


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - int(before_birthday)


def _therapies_of(consultation: Consultation) -> dict[str, str]:
    return dict(consultation.prior_treatments.values_list("therapy", "outcome"))


def _facts(consultation: Consultation) -> PatientFacts:
    assert consultation.pain_duration_months is not None
    assert consultation.systolic_bp is not None
    assert consultation.diastolic_bp is not None
    assert consultation.heart_rate is not None
    assert consultation.spo2 is not None
    assert consultation.weight_kg is not None
    return PatientFacts(
        age_years=age_on(consultation.patient.date_of_birth, consultation.exam_date),
        pain_duration_months=float(consultation.pain_duration_months),
        systolic_bp=consultation.systolic_bp,
        diastolic_bp=consultation.diastolic_bp,
        heart_rate=consultation.heart_rate,
        spo2=consultation.spo2,
        weight_kg=float(consultation.weight_kg),
        conditions=frozenset(consultation.conditions),
        prior_therapies=_therapies_of(consultation),
    )


def _facts_dict(facts: PatientFacts) -> dict[str, Any]:
    return {
        "age_years": facts.age_years,
        "pain_duration_months": facts.pain_duration_months,
        "systolic_bp": facts.systolic_bp,
        "diastolic_bp": facts.diastolic_bp,
        "heart_rate": facts.heart_rate,
        "spo2": facts.spo2,
        "weight_kg": facts.weight_kg,
        "conditions": sorted(facts.conditions),
        "prior_therapies": dict(sorted(facts.prior_therapies.items())),
    }


def reason_threshold(code: str, policy: EligibilityPolicy) -> str:
    """The threshold a reason was judged against, in the words of the clinic's settings."""
    p = policy
    texts = {
        "minor": f"Age under {p.min_age_years} years",
        "blood_pressure_crisis": (
            f"Systolic ≥ {p.crisis_systolic_bp} mmHg or diastolic ≥ {p.crisis_diastolic_bp} mmHg"
        ),
        "blood_pressure_elevated": (
            f"Systolic ≥ {p.elevated_systolic_bp} mmHg or diastolic ≥ "
            f"{p.elevated_diastolic_bp} mmHg (below the crisis level)"
        ),
        "tachycardia": f"Heart rate over {p.max_heart_rate}/min",
        "low_oxygen_saturation": f"SpO2 under {p.min_spo2}%",
        "not_chronic": f"Pain for {p.chronic_pain_months:g} months or less",
        "first_line_not_exhausted": (
            f"Fewer than {p.first_line_classes_required} of the {len(FIRST_LINE_CLASSES)} "
            f"first-line classes ({', '.join(FIRST_LINE_CLASSES.values())}) failed or not "
            "tolerated"
        ),
    }
    if code in CONDITIONS:
        return f"{CONDITIONS[code].label} recorded in the history"
    if code in texts:
        return texts[code]
    # A rule added to the clinical core later still shows its firing condition.
    return RULES[code].fires_when if code in RULES else ""


def _decision_refresh(actor: Actor, consultation: Consultation) -> EligibilityDecision | None:
    """Evaluate the current record under the clinic's current policy and store the result; drop
    the draft decision when a needed fact is missing. Audited when it changes."""
    existing = EligibilityDecision.objects.filter(consultation=consultation).first()
    if consultation.missing_facts():
        if existing is not None:
            existing.delete()
            audit_record(
                actor=actor,
                action=Action.DELETE,
                object_type="eligibility_decision",
                object_id=existing.public_id,
                patient=consultation.patient,
                detail={"consultation": str(consultation.public_id), "why": "facts missing"},
            )
        return None
    policy_row = clinic_policy_current(clinic_id=consultation.clinic_id)
    policy = policy_row.eligibility_policy()
    try:
        facts = _facts(consultation)
    except ValueError as exc:
        raise ValidationError(f"The eligibility rules cannot use this record: {exc}") from exc
    result = evaluate(facts, policy)
    decision = existing or EligibilityDecision(
        consultation=consultation, clinic_id=consultation.clinic_id, patient=consultation.patient
    )
    decision.outcome = result.outcome
    decision.reasons = [
        {
            "code": r.code,
            "outcome": r.outcome,
            "message": r.message,
            "source": r.source,
            "threshold": reason_threshold(r.code, policy),
        }
        for r in result.reasons
    ]
    decision.ruleset_version = result.ruleset_version
    decision.policy_version = policy_row.version
    decision.policy_values = {**policy_row.snapshot(), "eligibility": result.policy}
    decision.facts = _facts_dict(facts)
    decision.evaluated_at = timezone.now()
    decision.full_clean()
    decision.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE if existing is not None else Action.CREATE,
        object_type="eligibility_decision",
        object_id=decision.public_id,
        patient=consultation.patient,
        detail={
            "consultation": str(consultation.public_id),
            "ruleset_version": decision.ruleset_version,
            "policy_version": decision.policy_version,
        },
    )
    return decision


def _audit_update(
    actor: Actor, consultation: Consultation, section: str, fields: list[str]
) -> None:
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="consultation",
        object_id=consultation.public_id,
        patient=consultation.patient,
        # Names of the fields only: the audit trail must not become a second copy of the notes.
        detail={"section": section, "fields": sorted(fields)},
    )


# --- consultation ----------------------------------------------------------------------------


@transaction.atomic
def consultation_start(
    *,
    actor: Actor,
    patient_public_id: str,
    exam_date: dt.date | None = None,
    appointment_public_id: str | None = None,
) -> Consultation:
    """Open a draft consultation for a patient of the physician's clinic."""
    user = _writer(actor)
    patient = access_patient(user, patient_public_id, for_write=False, clinical=True)
    appointment = None
    if appointment_public_id:
        appointment = Appointment.objects.filter(
            patient=patient, public_id=appointment_public_id
        ).first()
        if appointment is None:
            raise ValidationError({"appointment": "Choose one of this patient's appointments."})
    today = _local_today(patient)
    exam_date = exam_date or today
    if exam_date > today:
        raise ValidationError({"exam_date": "Exam date cannot be in the future."})
    consultation = Consultation(
        clinic_id=patient.clinic_id,
        patient=patient,
        appointment=appointment,
        exam_date=exam_date,
        created_by=user,
    )
    consultation.full_clean()
    consultation.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="consultation",
        object_id=consultation.public_id,
        patient=patient,
        detail={"appointment": bool(appointment)},
    )
    return consultation


def _cause_rows(keys: Sequence[str]) -> list[codes.Code]:
    found: list[codes.Code] = []
    for key in keys:
        try:
            code = codes.from_key(key, field="causes")
        except codes.UnknownCodeError as exc:
            raise ValidationError({"causes": str(exc)}) from exc
        if code.system not in codes.CAUSE_SYSTEMS:
            raise ValidationError(
                {
                    "causes": f"causes: {code.code} is a {code.system_name} code; "
                    "causes are coded in SNOMED CT or ICD-10-CM."
                }
            )
        if code not in found:
            found.append(code)
    return found


def _treatment_rows(treatments: Mapping[str, str]) -> dict[str, str]:
    for therapy, outcome in treatments.items():
        if therapy not in THERAPIES:
            raise ValidationError(
                {"prior_treatments": f"prior_treatments: unknown therapy code {therapy!r}."}
            )
        if outcome not in THERAPY_OUTCOMES:
            raise ValidationError(
                {
                    "prior_treatments": f"prior_treatments: {THERAPIES[therapy].label}: unknown "
                    f"outcome {outcome!r}; choose one of {', '.join(THERAPY_OUTCOMES)}."
                }
            )
    return dict(treatments)


@transaction.atomic
def consultation_history_save(
    *, actor: Actor, public_id: str, expected_version: int, history: HistoryInput
) -> Consultation:
    consultation = _locked_draft(actor, public_id, expected_version)
    causes = _cause_rows(history.causes)
    treatments = _treatment_rows(history.prior_treatments)
    values: dict[str, object] = {
        "pain_duration_months": history.pain_duration_months,
        "pain_nrs": history.pain_nrs,
        "pain_regions": list(history.pain_regions),
        "pain_descriptors": list(history.pain_descriptors),
        "conditions": list(history.conditions),
        "history_notes": history.history_notes.strip(),
    }
    changed = [name for name, value in values.items() if getattr(consultation, name) != value]
    for name, value in values.items():
        setattr(consultation, name, value)
    old_causes = set(consultation.causes.values_list("system", "code"))
    new_causes = {(c.system, c.code) for c in causes}
    if old_causes != new_causes:
        changed.append("causes")
    if _therapies_of(consultation) != treatments:
        changed.append("prior_treatments")
    _save(consultation)
    if "causes" in changed:
        consultation.causes.all().delete()
        Cause.objects.bulk_create(
            Cause(consultation=consultation, system=c.system, code=c.code, display=c.display)
            for c in causes
        )
    if "prior_treatments" in changed:
        consultation.prior_treatments.all().delete()
        PriorTreatment.objects.bulk_create(
            PriorTreatment(consultation=consultation, therapy=therapy, outcome=outcome)
            for therapy, outcome in treatments.items()
        )
    _audit_update(actor, consultation, "history", changed)
    _decision_refresh(actor, consultation)
    return consultation


def _dn4_score(
    answers: Mapping[str, bool] | None,
) -> tuple[dict[str, bool], int | None, bool | None]:
    if answers is None:
        return {}, None, None
    try:
        result = score("dn4", answers)
    except InvalidAnswers as exc:
        raise ValidationError(
            {
                f"dn4_{key}": f"DN4 {key.replace('_', ' ')}: {problem}"
                for key, problem in exc.errors.items()
            }
        ) from exc
    return dict(answers), int(result.total), bool(result.positive)


def _observations(consultation: Consultation) -> list[Observation]:
    rows = []
    for name, coded in EXAM_OBSERVATIONS.items():
        value = consultation.bmi if name == "bmi" else getattr(consultation, name)
        if value is None:
            continue
        for code in coded:
            assert code.unit is not None
            rows.append(
                Observation(
                    consultation=consultation,
                    patient=consultation.patient,
                    loinc=code.code,
                    display=code.display,
                    value=float(value),
                    unit=code.unit,
                    effective_date=consultation.exam_date,
                )
            )
    return rows


@transaction.atomic
def consultation_exam_save(
    *, actor: Actor, public_id: str, expected_version: int, exam: ExamInput
) -> Consultation:
    consultation = _locked_draft(actor, public_id, expected_version)
    dn4_answers, dn4_total, dn4_positive = _dn4_score(exam.dn4)
    values: dict[str, object] = {
        "systolic_bp": exam.systolic_bp,
        "diastolic_bp": exam.diastolic_bp,
        "heart_rate": exam.heart_rate,
        "respiratory_rate": exam.respiratory_rate,
        "spo2": exam.spo2,
        "temperature_c": exam.temperature_c,
        "weight_kg": exam.weight_kg,
        "height_cm": exam.height_cm,
        "sensory_signs": list(exam.sensory_signs),
        "exam_notes": exam.exam_notes.strip(),
        "dn4_answers": dn4_answers,
        "dn4_total": dn4_total,
        "dn4_positive": dn4_positive,
    }
    changed = [name for name, value in values.items() if getattr(consultation, name) != value]
    for name, value in values.items():
        setattr(consultation, name, value)
    _save(consultation)
    consultation.observations.all().delete()
    Observation.objects.bulk_create(_observations(consultation))
    _audit_update(actor, consultation, "exam", changed)
    _decision_refresh(actor, consultation)
    return consultation


@transaction.atomic
def consultation_grade_save(
    *, actor: Actor, public_id: str, expected_version: int, grade: GradeInput
) -> Consultation:
    consultation = _locked_draft(actor, public_id, expected_version)
    try:
        result = neuropathic_grade(
            history=grade.history,
            plausible_distribution=grade.plausible_distribution,
            sensory_signs=grade.sensory_signs,
            confirmatory_test=grade.confirmatory_test,
        )
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    values: dict[str, object] = {
        "grade_history": grade.history,
        "grade_plausible_distribution": grade.plausible_distribution,
        "grade_sensory_signs": grade.sensory_signs,
        "grade_confirmatory_test": grade.confirmatory_test,
        "confirmatory_test_note": grade.confirmatory_test_note.strip(),
        "neuropathic_grade": result,
    }
    changed = [name for name, value in values.items() if getattr(consultation, name) != value]
    for name, value in values.items():
        setattr(consultation, name, value)
    _save(consultation)
    _audit_update(actor, consultation, "grade", changed)
    return consultation


# --- decision --------------------------------------------------------------------------------


def _current_decision(consultation: Consultation) -> EligibilityDecision:
    decision = EligibilityDecision.objects.filter(consultation=consultation).first()
    if decision is None:
        raise ValidationError(
            "There is no eligibility decision to sign yet: record "
            f"{', '.join(consultation.missing_facts())} first."
        )
    current = clinic_policy_current(clinic_id=consultation.clinic_id).version
    if decision.policy_version != current:
        raise ValidationError(
            f"The clinic's eligibility settings changed (version {decision.policy_version} → "
            f"{current}) since this decision was evaluated. Re-evaluate it, review the result, "
            "then sign.",
            code="policy_changed",
        )
    return decision


def _lock(consultation: Consultation, user: User, now: dt.datetime) -> None:
    consultation.status = ConsultationStatus.SIGNED
    consultation.signed_by = user
    consultation.signed_at = now
    _save(consultation)


@transaction.atomic
def decision_reevaluate(
    *, actor: Actor, public_id: str, expected_version: int
) -> EligibilityDecision | None:
    """Run the rules again under the clinic's current settings (after they changed)."""
    consultation = _locked_draft(actor, public_id, expected_version)
    _save(consultation)
    return _decision_refresh(actor, consultation)


@transaction.atomic
def decision_sign(*, actor: Actor, public_id: str, expected_version: int) -> EligibilityDecision:
    """The physician accepts the engine's outcome; decision and consultation lock together."""
    user = _writer(actor)
    consultation = _locked_draft(actor, public_id, expected_version)
    decision = _current_decision(consultation)
    now = timezone.now()
    decision.status = DecisionStatus.SIGNED
    decision.final_outcome = decision.outcome
    decision.signed_by = user
    decision.signed_at = now
    decision.full_clean()
    decision.save()
    _lock(consultation, user, now)
    audit_record(
        actor=actor,
        action=Action.SIGN,
        object_type="eligibility_decision",
        object_id=decision.public_id,
        patient=consultation.patient,
        detail={
            "consultation": str(consultation.public_id),
            "ruleset_version": decision.ruleset_version,
            "policy_version": decision.policy_version,
        },
    )
    return decision


@transaction.atomic
def decision_override(
    *, actor: Actor, public_id: str, expected_version: int, outcome: str, reason: str
) -> EligibilityDecision:
    """The physician replaces the engine's outcome with their own, with a written reason."""
    user = _writer(actor)
    reason = reason.strip()
    if outcome not in DecisionOutcome.values:
        raise ValidationError(
            {"outcome": "Override outcome: choose eligible, review or ineligible."}
        )
    if len(reason) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "reason": "Override reason: write why you override the decision "
                f"(at least {gates.MIN_REASON_LENGTH} characters)."
            }
        )
    consultation = _locked_draft(actor, public_id, expected_version)
    decision = _current_decision(consultation)
    if not gates.can_override(decision.outcome):
        # docs/clinical-policy.md gate 1: "ineligible" is final until a new consultation and
        # exam re-evaluate it; no override, however well argued, lets ketamine through.
        raise ValidationError(
            {
                "outcome": "Override outcome: an ineligible decision cannot be overridden. Sign "
                "it; a new consultation and exam re-evaluate the patient."
            },
            code="ineligible_not_overridable",
        )
    if outcome == decision.outcome:
        raise ValidationError(
            {
                "outcome": f"Override outcome: the rules already give {outcome!r}; "
                "sign the decision instead of overriding it."
            }
        )
    now = timezone.now()
    decision.status = DecisionStatus.OVERRIDDEN
    decision.final_outcome = outcome
    decision.override_reason = reason
    decision.signed_by = user
    decision.signed_at = now
    decision.full_clean()
    decision.save()
    _lock(consultation, user, now)
    audit_record(
        actor=actor,
        action=Action.OVERRIDE,
        object_type="eligibility_decision",
        object_id=decision.public_id,
        patient=consultation.patient,
        detail={
            "consultation": str(consultation.public_id),
            "ruleset_version": decision.ruleset_version,
            "policy_version": decision.policy_version,
            # Which way it went, not why: the reason is clinical text kept on the decision.
            "from": decision.outcome,
            "to": outcome,
        },
    )
    return decision


@transaction.atomic
def addendum_add(*, actor: Actor, public_id: str, text: str) -> Addendum:
    """Add a correction to a signed consultation; the signed record itself never changes."""
    user = _writer(actor)
    found = access_consultation(user, public_id, for_write=True)
    consultation = (
        Consultation.objects.select_for_update().select_related("patient").get(pk=found.pk)
    )
    if consultation.status != ConsultationStatus.SIGNED:
        raise ValidationError(
            {"text": "Addendum: this consultation is still a draft; edit it directly."}
        )
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Addendum: write the correction or note to add."})
    addendum = Addendum(consultation=consultation, text=text, author=user)
    addendum.full_clean()
    addendum.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="consultation_addendum",
        object_id=consultation.public_id,
        patient=consultation.patient,
        detail={"addendum": addendum.pk},
    )
    return addendum
