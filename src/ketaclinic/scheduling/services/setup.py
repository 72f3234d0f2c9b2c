"""Clinic admin configuration of the schedule: appointment types, weekly availability,
availability exceptions and the booking policy. Each change is audited in its transaction.

Locations, chairs and the clinic's safety policy are configured in the ``clinics`` app.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from ketaclinic.accounts.models import STAFF_ROLES, Role, User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.scheduling.models import (
    AppointmentKind,
    AppointmentType,
    AvailabilityException,
    BookingPolicy,
    WeeklyAvailability,
)
from ketaclinic.scheduling.selectors import infusion_type
from ketaclinic.scheduling.services.errors import SchedulingError
from ketaclinic.scheduling.services.locks import lock_booking_policy


def _admin_audit(
    actor: Actor, action: Action, object_type: str, object_id: object, clinic_id: int
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        clinic=Clinic(pk=clinic_id),
    )


def appointment_type_save(*, actor: Actor, instance: AppointmentType) -> AppointmentType:
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    instance.clinic_id = actor.user.clinic_id
    instance.full_clean()
    with transaction.atomic():
        created = instance.pk is None
        instance.save()
        _admin_audit(
            actor,
            Action.CREATE if created else Action.UPDATE,
            "appointment_type",
            instance.pk,
            instance.clinic_id,
        )
    return instance


def _check_provider(actor: Actor, provider: User, location: Location | None) -> None:
    assert actor.user is not None
    if provider.clinic_id != actor.user.clinic_id or provider.role not in STAFF_ROLES:
        raise ValidationError({"provider": "Choose one of this clinic's staff."})
    if location is not None and location.clinic_id != actor.user.clinic_id:
        raise ValidationError({"location": "Choose one of this clinic's locations."})


def _admin_add(actor: Actor, instance: Any, object_type: str) -> None:
    """Save one clinic-admin scheduling row (availability, exception) with its audit event."""
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    _check_provider(actor, instance.provider, instance.location)
    instance.full_clean()
    with transaction.atomic():
        instance.save()
        _admin_audit(actor, Action.CREATE, object_type, instance.pk, actor.user.clinic_id)


def _admin_remove(actor: Actor, rows: QuerySet[Any], pk: int, object_type: str, what: str) -> None:
    """Delete one row of the actor's clinic (``rows`` is already clinic-scoped), audited."""
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    with transaction.atomic():
        deleted, _ = rows.filter(pk=pk).delete()
        if not deleted:
            raise SchedulingError(f"That {what} no longer exists.")
        _admin_audit(actor, Action.DELETE, object_type, pk, actor.user.clinic_id)


def availability_add(*, actor: Actor, instance: WeeklyAvailability) -> WeeklyAvailability:
    _admin_add(actor, instance, "weekly_availability")
    return instance


def availability_remove(*, actor: Actor, pk: int) -> None:
    assert actor.user is not None
    rows = WeeklyAvailability.objects.filter(location__clinic_id=actor.user.clinic_id or 0)
    _admin_remove(actor, rows, pk, "weekly_availability", "availability")


def exception_add(*, actor: Actor, instance: AvailabilityException) -> AvailabilityException:
    _admin_add(actor, instance, "availability_exception")
    return instance


def exception_remove(*, actor: Actor, pk: int) -> None:
    assert actor.user is not None
    rows = AvailabilityException.objects.filter(provider__clinic_id=actor.user.clinic_id or 0)
    _admin_remove(actor, rows, pk, "availability_exception", "exception")


def booking_policy_update(*, actor: Actor, changes: dict[str, int]) -> BookingPolicy:
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    allowed = {"lead_time_hours", "horizon_days", "cancel_cutoff_hours", "waitlist_hold_minutes"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValueError(f"{unknown[0]}: this field cannot be changed here")
    with transaction.atomic():
        policy = lock_booking_policy(actor.user.clinic_id)
        for field, value in changes.items():
            setattr(policy, field, value)
        policy.full_clean()
        policy.save()
        _admin_audit(actor, Action.UPDATE, "booking_policy", policy.pk, policy.clinic_id)
    return policy


def infusion_type_variant(
    *,
    actor: Actor,
    clinic_id: int,
    name: str,
    reason: str,
    fallback_duration_min: int,
    fallback_buffer_min: int,
) -> AppointmentType:
    """The clinic's infusion appointment type called ``name``, created once (audited) as a copy
    of its infusion type (duration, recovery buffer, provider role, chair), or of the fallbacks
    when the clinic has none yet. Not bookable online: another service decides who may book it
    (a booster, for the patient whose physician approved one)."""
    found = AppointmentType.objects.filter(clinic_id=clinic_id, name=name).first()
    if found is not None:
        return found
    base = infusion_type(clinic_id)
    variant = AppointmentType(
        clinic_id=clinic_id,
        kind=AppointmentKind.INFUSION,
        name=name,
        duration_min=base.duration_min if base else fallback_duration_min,
        buffer_min=base.buffer_min if base else fallback_buffer_min,
        provider_role=base.provider_role if base else Role.NURSE,
        needs_chair=base.needs_chair if base else True,
        bookable_online=False,
    )
    variant.full_clean(validate_constraints=False)
    variant.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="appointment_type",
        object_id=variant.pk,
        detail={"name": name, "reason": reason},
        clinic=Clinic.objects.get(pk=clinic_id),
    )
    return variant
