"""The one place that decides who may see or change a plan (404 outside scope).

Plans are clinical notes: the front desk never sees them. Nurses and clinic admins read them;
only a physician writes, signs or changes the protocol. A patient sees only their own signed
plan, through the patient summary, never through a staff URL.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from ketaclinic.accounts.models import CLINICAL_ROLES, Role, User
from ketaclinic.plans.models import Plan

PLAN_READERS = CLINICAL_ROLES
PLAN_WRITERS = frozenset({Role.PHYSICIAN})


def plans_visible_to(user: User) -> QuerySet[Plan]:
    """Every plan the user may read through the staff pages."""
    if not user.is_authenticated or not user.is_active or user.clinic_id is None:
        return Plan.objects.none()
    if user.role not in PLAN_READERS:
        return Plan.objects.none()
    # The patient's clinic too: the server set both, but the check costs nothing in the join.
    return Plan.objects.filter(clinic_id=user.clinic_id, patient__clinic_id=user.clinic_id)


def access_plan(user: User, public_id: uuid.UUID | str, *, for_write: bool) -> Plan:
    """Fetch and authorize together; the plan comes with its patient, protocol and signer."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404("No such plan") from None
    if for_write and user.role not in PLAN_WRITERS:
        raise Http404("No such plan")
    try:
        return (
            plans_visible_to(user)
            .select_related(
                "clinic",
                "patient__home_location",
                "protocol",
                "created_by",
                "signed_by",
                "supersedes",
            )
            .get(public_id=key)
        )
    except Plan.DoesNotExist:
        raise Http404("No such plan") from None
