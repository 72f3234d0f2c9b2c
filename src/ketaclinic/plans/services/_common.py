"""What every plan write shares: who may write, the lock order, and the refusals.

Every plan write locks the patient row first, then the plan's (``lock_patient``, then
``locked_plan``): one fixed order, so two physicians acting at once never deadlock, and plan
numbers and the one-draft and one-signed rules hold. The locked plan is checked against the
version the form was loaded with (``ketaclinic.lib.locking``).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from ketaclinic.audit.api import Actor
from ketaclinic.lib.locking import lock_row, lock_versioned
from ketaclinic.patients.models import Patient
from ketaclinic.plans.access import PLAN_WRITERS, access_plan
from ketaclinic.plans.models import Plan, PlanStatus


class PlanLockedError(ValidationError):
    """The plan is signed (or superseded): it is read-only."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(
            f"Plan {plan.number} is {plan.get_status_display().lower()} and read-only. "
            "To change it, revise it: that makes a new draft.",
            code="locked",
        )


def writer(actor: Actor) -> None:
    # Views already 404 other roles; the service refuses too, so no caller can skip the rule.
    if actor.user is None or actor.user.role not in PLAN_WRITERS:
        raise PermissionError("Only a physician writes plans.")


def lock_patient(patient: Patient) -> None:
    """Lock the patient's row: the first lock of every plan write."""
    lock_row(Patient.objects.only("pk"), patient.pk)


def locked_plan(actor: Actor, plan_id: str, expected_version: int) -> Plan:
    """The plan, authorized for writing, locked after its patient, at the expected version."""
    assert actor.user is not None
    found = access_plan(actor.user, plan_id, for_write=True)
    lock_patient(found.patient)
    return lock_versioned(
        Plan.objects.select_related("patient"), found.pk, expected_version, "plan"
    )


def locked_draft(actor: Actor, plan_id: str, expected_version: int) -> Plan:
    """``locked_plan``, refused unless it is still a draft."""
    plan = locked_plan(actor, plan_id, expected_version)
    if plan.status != PlanStatus.DRAFT:
        raise PlanLockedError(plan)
    return plan


def check_review_date(review_date: dt.date | None) -> None:
    if review_date is not None and review_date <= timezone.localdate():
        raise ValidationError({"review_date": "The review date must be in the future."})


def next_number(patient: Patient) -> int:
    highest = Plan.objects.filter(patient=patient).aggregate(n=Max("number"))["n"]
    return (highest or 0) + 1


def _draft_exists_error() -> ValidationError:
    return ValidationError(
        "This patient already has a draft plan: finish or sign it before starting another.",
        code="draft_exists",
    )


def refuse_second_draft(patient: Patient) -> None:
    """Refuse a new draft while the patient has one (call with the patient's row locked)."""
    if Plan.objects.filter(patient=patient, status=PlanStatus.DRAFT).exists():
        raise _draft_exists_error()


def insert_draft(plan: Plan) -> None:
    """Save a new draft plan; should a second draft slip past ``refuse_second_draft``, the
    database's one-draft constraint refuses it with the same message."""
    plan.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:
        raise _draft_exists_error() from None
