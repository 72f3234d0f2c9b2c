"""Writes of a draft plan's own text: start it, then change its goals, review date and
components until it is signed.

Separate from the ketamine protocol (``ketamine``) and from signing and revising (``signing``):
these writes touch only the plan and its component rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.lib.locking import bump_version
from ketaclinic.patients.api import access_patient
from ketaclinic.plans.models import COMPONENT_CHOICES, Plan, PlanComponent
from ketaclinic.plans.services._common import (
    check_review_date,
    insert_draft,
    lock_patient,
    locked_draft,
    next_number,
    refuse_second_draft,
    writer,
)

COMPONENT_CODES = frozenset(code for code, _ in COMPONENT_CHOICES)
MAX_DETAILS = 2000
MAX_GOALS = 4000


def _clean_components(components: Mapping[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for code, details in components.items():
        if code not in COMPONENT_CODES:
            raise ValidationError({"__all__": f"{code!r} is not a plan component."})
        text = details.strip()
        if len(text) > MAX_DETAILS:
            raise ValidationError(
                {f"c_{code}": f"Keep the details under {MAX_DETAILS} characters."}
            )
        # A component without details is simply not part of the plan.
        if text:
            cleaned[code] = text
    return cleaned


def _clean_goals(goals: str) -> str:
    text = goals.strip()
    if len(text) > MAX_GOALS:
        raise ValidationError({"goals": f"Keep the goals under {MAX_GOALS} characters."})
    return text


def _replace_components(plan: Plan, components: dict[str, str]) -> list[str]:
    """Make the plan's components exactly ``components``; returns the codes that changed."""
    existing = {c.code: c for c in plan.components.all()}
    changed = sorted(
        code
        for code in set(existing) | set(components)
        if code not in existing
        or code not in components
        or existing[code].details != components[code]
    )
    PlanComponent.objects.filter(plan=plan, code__in=[c for c in changed if c in existing]).delete()
    new = [
        PlanComponent(plan=plan, code=code, details=components[code])
        for code in changed
        if code in components
    ]
    for component in new:
        # Uniqueness is the constraint's job (codes are already distinct here).
        component.full_clean(exclude=["plan"], validate_unique=False, validate_constraints=False)
    PlanComponent.objects.bulk_create(new)
    return changed


@transaction.atomic
def plan_create(
    *,
    actor: Actor,
    patient_public_id: str,
    goals: str,
    review_date: dt.date | None,
    components: Mapping[str, str],
) -> Plan:
    """Start a draft plan for a patient (one draft at a time)."""
    writer(actor)
    assert actor.user is not None
    patient = access_patient(actor.user, patient_public_id, for_write=False, clinical=True)
    cleaned = _clean_components(components)
    check_review_date(review_date)
    lock_patient(patient)
    refuse_second_draft(patient)
    plan = Plan(
        clinic_id=patient.clinic_id,
        patient=patient,
        number=next_number(patient),
        goals=_clean_goals(goals),
        review_date=review_date,
        created_by=actor.user,
    )
    insert_draft(plan)
    codes = _replace_components(plan, cleaned)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="plan",
        object_id=plan.public_id,
        patient=patient,
        detail={"number": plan.number, "components": codes},
    )
    return plan


@transaction.atomic
def plan_update(
    *,
    actor: Actor,
    plan_id: str,
    expected_version: int,
    goals: str,
    review_date: dt.date | None,
    components: Mapping[str, str],
) -> Plan:
    """Change a draft's goals, review date and components; refused on a signed or stale plan."""
    writer(actor)
    plan = locked_draft(actor, plan_id, expected_version)
    cleaned = _clean_components(components)
    check_review_date(review_date)
    changed: list[str] = []
    new_goals = _clean_goals(goals)
    if plan.goals != new_goals:
        plan.goals = new_goals
        changed.append("goals")
    if plan.review_date != review_date:
        plan.review_date = review_date
        changed.append("review_date")
    codes = _replace_components(plan, cleaned)
    if not changed and not codes:
        return plan
    plan.full_clean(validate_constraints=False)
    bump_version(plan)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="plan",
        object_id=plan.public_id,
        patient=plan.patient,
        # Names only: the audit trail must not become a second copy of the plan.
        detail={"fields": changed, "components": codes},
    )
    return plan
