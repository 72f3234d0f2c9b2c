"""Reads of the schedule for pages: bounded queries; reads of patient data are audited."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet

from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinics.models import Location
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.access import appointments_visible_to
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    WaitlistEntry,
    WaitlistStatus,
)


def bookable_locations() -> list[Location]:
    """Locations with an online-bookable consultation: what a visitor may pick (one query)."""
    clinic_ids = AppointmentType.objects.filter(
        kind=AppointmentKind.CONSULTATION, bookable_online=True, is_active=True
    ).values("clinic_id")
    return list(Location.objects.filter(clinic_id__in=clinic_ids).select_related("clinic"))


def consultation_type(clinic_id: int, *, online: bool) -> AppointmentType | None:
    qs = AppointmentType.objects.filter(
        clinic_id=clinic_id, kind=AppointmentKind.CONSULTATION, is_active=True
    )
    if online:
        qs = qs.filter(bookable_online=True)
    return qs.order_by("duration_min", "pk").first()


def _with_related(qs: QuerySet[Appointment]) -> QuerySet[Appointment]:
    return qs.select_related("location__clinic", "type", "provider", "patient")


def patient_appointments(*, actor: Actor, patient: Patient) -> list[Appointment]:
    with transaction.atomic():
        rows = list(_with_related(Appointment.objects.filter(patient=patient)).order_by("-start"))
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="appointment_list",
            patient=patient,
            detail={"results": len(rows)},
        )
    return rows


def patient_waitlist(*, patient: Patient) -> list[WaitlistEntry]:
    return list(
        WaitlistEntry.objects.filter(patient=patient, status=WaitlistStatus.WAITING).select_related(
            "location", "appointment"
        )
    )


def recent_bookings(*, actor: Actor, since: dt.datetime, limit: int = 100) -> list[Appointment]:
    """The front desk's list of new bookings (newest first), one query plus the audit row."""
    assert actor.user is not None
    with transaction.atomic():
        rows = list(
            _with_related(appointments_visible_to(actor.user))
            .filter(created_at__gte=since, status=AppointmentStatus.BOOKED)
            .order_by("-created_at")[:limit]
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="appointment_list",
            detail={"results": len(rows), "list": "new_bookings"},
        )
    return rows


def appointment_read(*, actor: Actor, appointment: Appointment) -> Appointment:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="appointment",
            object_id=appointment.public_id,
            patient=appointment.patient,
        )
    return appointment
