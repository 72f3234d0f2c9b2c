"""The physician's word on the eligibility decision: sign it, override it, or re-evaluate it.

Signing or overriding freezes the decision and its consultation together, in one transaction
(one signature, one time); after that only addenda may be added. Separate from ``evaluation``,
which keeps the engine's unsigned answer current, because these writes are the clinical act.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.assessments.models import (
    Consultation,
    ConsultationStatus,
    DecisionOutcome,
    DecisionStatus,
    EligibilityDecision,
)
from ketaclinic.assessments.services._common import locked_draft, save_consultation, writer
from ketaclinic.assessments.services.evaluation import decision_detail, decision_refresh
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import gates
from ketaclinic.clinics.api import clinic_policy_current


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


def _sign_together(
    *,
    actor: Actor,
    user: User,
    consultation: Consultation,
    decision: EligibilityDecision,
    status: DecisionStatus,
    final_outcome: str,
    action: Action,
    detail: dict[str, Any],
) -> EligibilityDecision:
    """Sign the decision with ``status`` and lock its consultation at the same time, audited."""
    now = timezone.now()
    decision.status = status
    decision.final_outcome = final_outcome
    decision.signed_by = user
    decision.signed_at = now
    decision.full_clean()
    decision.save()
    consultation.status = ConsultationStatus.SIGNED
    consultation.signed_by = user
    consultation.signed_at = now
    save_consultation(consultation)
    audit_record(
        actor=actor,
        action=action,
        object_type="eligibility_decision",
        object_id=decision.public_id,
        patient=consultation.patient,
        detail={**decision_detail(consultation, decision), **detail},
    )
    return decision


@transaction.atomic
def decision_reevaluate(
    *, actor: Actor, public_id: str, expected_version: int
) -> EligibilityDecision | None:
    """Run the rules again under the clinic's current settings (after they changed)."""
    consultation = locked_draft(actor, public_id, expected_version)
    save_consultation(consultation)
    return decision_refresh(actor, consultation)


@transaction.atomic
def decision_sign(*, actor: Actor, public_id: str, expected_version: int) -> EligibilityDecision:
    """The physician accepts the engine's outcome; decision and consultation lock together."""
    user = writer(actor)
    consultation = locked_draft(actor, public_id, expected_version)
    decision = _current_decision(consultation)
    return _sign_together(
        actor=actor,
        user=user,
        consultation=consultation,
        decision=decision,
        status=DecisionStatus.SIGNED,
        final_outcome=decision.outcome,
        action=Action.SIGN,
        detail={},
    )


@transaction.atomic
def decision_override(
    *, actor: Actor, public_id: str, expected_version: int, outcome: str, reason: str
) -> EligibilityDecision:
    """The physician replaces the engine's outcome with their own, with a written reason."""
    user = writer(actor)
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
    consultation = locked_draft(actor, public_id, expected_version)
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
    decision.override_reason = reason
    return _sign_together(
        actor=actor,
        user=user,
        consultation=consultation,
        decision=decision,
        status=DecisionStatus.OVERRIDDEN,
        final_outcome=outcome,
        action=Action.OVERRIDE,
        # Which way it went, not why: the reason is clinical text kept on the decision.
        detail={"from": decision.outcome, "to": outcome},
    )
