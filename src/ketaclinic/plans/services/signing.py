"""Signing a draft plan, and revising a signed one into a new draft.

Signing re-checks the gates the protocol was saved under (eligibility in force, the dose on the
newest measured exam, the clinic's current limits), then supersedes the patient's earlier signed
plan. A revision copies a signed plan's components and protocol into draft number + 1.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketaclinic.assessments.api import require_eligibility_in_force
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.lib.locking import bump_version, lock_in_order
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanComponent, PlanStatus
from ketaclinic.plans.selectors import protocol_of
from ketaclinic.plans.services._common import (
    check_review_date,
    insert_draft,
    locked_draft,
    locked_plan,
    next_number,
    refuse_second_draft,
    writer,
)
from ketaclinic.plans.services.ketamine import (
    check_exam_for_signing,
    compute_under,
    inputs_of,
    measured_exam,
    store_outputs,
)
from ketaclinic.plans.signals import plan_superseded


def _check_protocol(plan: Plan, protocol: KetamineProtocol, detail: dict[str, object]) -> None:
    """Gates 1 and 2 again at signing, and the dose under the clinic's current limits (which
    may have changed since it was computed); what was checked goes into ``detail``."""
    # Gate 1: a ketamine protocol is signed only under an eligibility decision in force.
    in_force = require_eligibility_in_force(
        patient=plan.patient,
        today=timezone.localdate(),
        action="sign a plan with a ketamine protocol",
    )
    detail["eligibility_decision"] = in_force.decision.decision_id if in_force.decision else ""
    policy = clinic_policy_current(clinic_id=plan.clinic_id)
    # Gate 2: the dose rests on the newest exam's measured weight, recent enough.
    measured = measured_exam(plan.patient)
    check_exam_for_signing(
        protocol,
        measured,
        today=timezone.localdate(),
        max_age_days=policy.exam_weight_max_age_days,
    )
    detail["exam_date"] = measured.exam_date.isoformat()
    detail["exam_weight_max_age_days"] = policy.exam_weight_max_age_days
    if store_outputs(protocol, compute_under(inputs_of(protocol), policy), policy):
        protocol.full_clean(exclude=["plan"])
        protocol.save()
    detail["policy_version"] = policy.version


def _supersede(actor: Actor, plan: Plan) -> list[Plan]:
    """Mark the patient's other signed plans superseded by ``plan``, each audited."""
    previous = lock_in_order(
        Plan.objects.filter(patient=plan.patient, status=PlanStatus.SIGNED).exclude(pk=plan.pk)
    )
    for old in previous:
        old.status = PlanStatus.SUPERSEDED
        bump_version(old, fields=["status"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="plan",
            object_id=old.public_id,
            patient=plan.patient,
            detail={"fields": ["status"], "superseded_by": str(plan.public_id)},
        )
    return previous


@transaction.atomic
def plan_sign(*, actor: Actor, plan_id: str, expected_version: int) -> Plan:
    """Sign a draft: it becomes read-only and supersedes the patient's previous signed plan.

    The protocol is checked again against the clinic's current limits, which may have changed
    since it was computed: a dose past them is refused (``DoseRefusedError``), nothing signed.
    """
    writer(actor)
    plan = locked_draft(actor, plan_id, expected_version)
    missing = {}
    if not plan.goals:
        missing["goals"] = "Write the plan's goals before signing."
    if plan.review_date is None:
        missing["review_date"] = "Set a review date before signing."
    if missing:
        raise ValidationError(missing)
    check_review_date(plan.review_date)
    detail: dict[str, object] = {"number": plan.number}
    protocol = protocol_of(plan)
    if protocol is not None:
        _check_protocol(plan, protocol, detail)
    previous = _supersede(actor, plan)
    if protocol is not None and previous:
        # Gate 3: the revised plan replaces the old plan's remaining booked sessions (cancelled,
        # the patient emailed by the scheduling app) instead of a second series beside them.
        # Scheduling sits above plans, so it is asked through a signal, in this transaction.
        responses = plan_superseded.send(
            sender=Plan, actor=actor, superseded_plan_ids=[old.pk for old in previous]
        )
        replaced = [series_id for _, cancelled in responses for series_id in cancelled or ()]
        if replaced:
            detail["replaced_series"] = replaced
    plan.status = PlanStatus.SIGNED
    plan.signed_by = actor.user
    plan.signed_at = timezone.now()
    bump_version(plan)
    if previous:
        detail["supersedes"] = [str(old.public_id) for old in previous]
    audit_record(
        actor=actor,
        action=Action.SIGN,
        object_type="plan",
        object_id=plan.public_id,
        patient=plan.patient,
        detail=detail,
    )
    return plan


@transaction.atomic
def plan_revise(*, actor: Actor, plan_id: str, expected_version: int) -> Plan:
    """A new draft (number + 1) copying a signed plan's components and protocol."""
    writer(actor)
    assert actor.user is not None
    source = locked_plan(actor, plan_id, expected_version)
    if source.status != PlanStatus.SIGNED:
        raise ValidationError("Only the current signed plan can be revised.", code="not_signed")
    refuse_second_draft(source.patient)
    draft = Plan(
        clinic_id=source.clinic_id,
        patient=source.patient,
        number=next_number(source.patient),
        goals=source.goals,
        review_date=source.review_date,
        supersedes=source,
        created_by=actor.user,
    )
    insert_draft(draft)
    PlanComponent.objects.bulk_create(
        PlanComponent(plan=draft, code=c.code, details=c.details) for c in source.components.all()
    )
    protocol = protocol_of(source)
    if protocol is not None:
        # A copy keeps the policy it was checked with; signing the draft checks it again.
        protocol.pk = None
        protocol.id = None
        protocol._state.adding = True
        protocol.plan = draft
        protocol.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="plan",
        object_id=draft.public_id,
        patient=source.patient,
        detail={"number": draft.number, "revises": str(source.public_id)},
    )
    return draft
