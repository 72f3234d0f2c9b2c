"""The eligibility engine's result kept up to date on a draft consultation.

Every save of a draft section calls ``decision_follow``: it runs ``clinical.eligibility.evaluate``
on the record under the clinic's current policy and stores the result with everything it was made
from, or drops the draft decision while a needed fact is missing. Separate from the signing
(``decision.py``) because it is the engine's answer, which no physician has accepted yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from ketaclinic.assessments.models import Consultation, EligibilityDecision
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical.eligibility import (
    CONDITIONS,
    FIRST_LINE_CLASSES,
    RULES,
    EligibilityPolicy,
    PatientFacts,
    evaluate,
)
from ketaclinic.clinics.api import clinic_policy_current


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - int(before_birthday)


def therapies_of(consultation: Consultation) -> dict[str, str]:
    """The prior treatments recorded on the consultation, therapy code -> outcome (one query)."""
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
        prior_therapies=therapies_of(consultation),
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


def decision_detail(consultation: Consultation, decision: EligibilityDecision) -> dict[str, Any]:
    """What every audit event of a decision records: its consultation and what it was made under."""
    return {
        "consultation": str(consultation.public_id),
        "ruleset_version": decision.ruleset_version,
        "policy_version": decision.policy_version,
    }


@dataclass(frozen=True)
class DecisionChange:
    """What a refresh did to the draft decision, for the one audit event of the write it is part
    of: ``action`` create, update or delete, the decision's id and what it was made under."""

    action: Action
    decision_id: str
    detail: dict[str, Any]

    def as_detail(self) -> dict[str, Any]:
        return {"change": str(self.action), "id": self.decision_id, **self.detail}


def decision_follow(
    consultation: Consultation,
) -> tuple[EligibilityDecision | None, DecisionChange | None]:
    """Evaluate the current record under the clinic's current policy and store the result; drop
    the draft decision when a needed fact is missing. Writes no audit event: the caller's event
    carries the returned change (a section save is one write, so one event)."""
    existing = EligibilityDecision.objects.filter(consultation=consultation).first()
    if consultation.missing_facts():
        if existing is None:
            return None, None
        existing.delete()
        return None, DecisionChange(
            Action.DELETE,
            str(existing.public_id),
            {"consultation": str(consultation.public_id), "why": "facts missing"},
        )
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
    action = Action.UPDATE if existing is not None else Action.CREATE
    return decision, DecisionChange(
        action, str(decision.public_id), decision_detail(consultation, decision)
    )


def decision_refresh(actor: Actor, consultation: Consultation) -> EligibilityDecision | None:
    """``decision_follow`` as a write of its own (re-evaluation under new settings): its one
    audit event names the decision."""
    decision, change = decision_follow(consultation)
    if change is not None:
        audit_record(
            actor=actor,
            action=change.action,
            object_type="eligibility_decision",
            object_id=change.decision_id,
            patient=consultation.patient,
            detail=change.detail,
        )
    return decision
