"""The one place that decides who may see or change a patient record.

Outside the user's clinic, or another patient's record, the answer is a 404, never a 403: a
403 would confirm that the record exists (zulip ``access_user_by_id``; healthchecks
``_get_check_for_user``).
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from ketaclinic.accounts.models import CLINICAL_ROLES, STAFF_ROLES, Role, User
from ketaclinic.patients.models import Patient

# Who may change a patient's demographics. Nurses chart clinical data (later issues) but the
# registration record belongs to the front desk and the physician.
DEMOGRAPHIC_WRITERS = frozenset({Role.FRONT_DESK, Role.PHYSICIAN, Role.CLINIC_ADMIN})


def patients_visible_to(user: User) -> QuerySet[Patient]:
    """Every patient the user may see: their clinic's for staff, their own for a patient."""
    clinic_id = user.clinic_id
    if not user.is_authenticated or not user.is_active or clinic_id is None:
        return Patient.objects.none()
    if user.is_clinic_staff:
        return Patient.objects.filter(clinic_id=clinic_id)
    if user.is_patient:
        return Patient.objects.filter(user=user, clinic_id=clinic_id)
    return Patient.objects.none()


def access_patient(
    user: User, public_id: uuid.UUID | str, *, for_write: bool, clinical: bool = False
) -> Patient:
    """Fetch and authorize together.

    ``for_write`` is required so every caller says what it intends. ``clinical`` marks access to
    clinical content, which the front desk may not see.
    """
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise Http404("No such patient") from None
    if clinical and user.role not in CLINICAL_ROLES and user.role != Role.PATIENT:
        raise Http404("No such patient")
    if for_write and user.role in STAFF_ROLES and user.role not in DEMOGRAPHIC_WRITERS:
        raise Http404("No such patient")
    try:
        return patients_visible_to(user).select_related("home_location").get(public_id=key)
    except Patient.DoesNotExist:
        raise Http404("No such patient") from None
