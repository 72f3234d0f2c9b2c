"""The one place that decides who may see or change an appointment (404 outside scope)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404

from ketaclinic.accounts.models import Role, User
from ketaclinic.scheduling.models import Appointment

# Who books, moves and cancels for patients (by phone); nurses see the schedule only.
SCHEDULERS = frozenset({Role.FRONT_DESK, Role.PHYSICIAN, Role.CLINIC_ADMIN})


def appointments_visible_to(user: User) -> QuerySet[Appointment]:
    if not user.is_authenticated or not user.is_active or user.clinic_id is None:
        return Appointment.objects.none()
    if user.is_clinic_staff:
        return Appointment.objects.filter(clinic_id=user.clinic_id)
    if user.is_patient:
        return Appointment.objects.filter(patient__user=user, clinic_id=user.clinic_id)
    return Appointment.objects.none()


def public_id_or_404(public_id: uuid.UUID | str, what: str) -> uuid.UUID:
    """The id from the address, or a 404 that says no more than a missing row would."""
    try:
        return uuid.UUID(str(public_id))
    except ValueError:
        raise Http404(f"No such {what}") from None


def access_appointment(user: User, public_id: uuid.UUID | str, *, for_write: bool) -> Appointment:
    key = public_id_or_404(public_id, "appointment")
    if for_write and user.is_clinic_staff and user.role not in SCHEDULERS:
        raise Http404("No such appointment")
    try:
        return (
            appointments_visible_to(user)
            .select_related("location__clinic", "type", "provider", "patient")
            .get(public_id=key)
        )
    except Appointment.DoesNotExist:
        raise Http404("No such appointment") from None
