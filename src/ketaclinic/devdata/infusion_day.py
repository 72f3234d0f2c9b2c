"""Demo data for the chair board: today's infusion appointments, for ``ketaclinic demo``.

``seed_infusion_day`` books, at each location of the clinic, one infusion for today per nurse
working there (a provider's appointments may not overlap), in a free chair, for patients of that
location, those with a signed plan first (so their pre-infusion check finds the dose). It is
idempotent: a location that already has an infusion booked today is left alone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan, PlanStatus
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentType


def _start(location: Location, now: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(location.time_zone)
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    latest = midnight + dt.timedelta(days=1) - duration - dt.timedelta(minutes=1)
    # A quarter of an hour ago, so the patient shows as expected (and a little late) right away.
    start = min(max(local - dt.timedelta(minutes=15), midnight), latest)
    return start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)


@transaction.atomic
def seed_infusion_day(*, clinic: Clinic, now: dt.datetime | None = None) -> list[Appointment]:
    moment = now or timezone.now()
    kind = AppointmentType.objects.filter(
        clinic=clinic, kind=AppointmentKind.INFUSION, is_active=True
    ).first()
    if kind is None:
        return []
    created: list[Appointment] = []
    for location in Location.objects.filter(clinic=clinic).order_by("name"):
        length = dt.timedelta(minutes=kind.duration_min)
        start = _start(location, moment, length + dt.timedelta(minutes=kind.buffer_min))
        tz = zoneinfo.ZoneInfo(location.time_zone)
        day_start = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        if Appointment.objects.filter(
            location=location,
            type__kind=AppointmentKind.INFUSION,
            start__gte=day_start,
            start__lt=day_start + dt.timedelta(days=1),
        ).exists():
            continue
        nurses = User.objects.filter(
            clinic=clinic, role=Role.NURSE, is_active=True, locations=location
        ).order_by("email")
        chairs = location.chairs.filter(is_active=True).order_by("name")
        signed = Plan.objects.filter(patient=OuterRef("pk"), status=PlanStatus.SIGNED)
        patients = (
            Patient.objects.filter(clinic=clinic, home_location=location)
            .annotate(has_plan=Exists(signed))
            .order_by("-has_plan", "mrn")
        )
        for nurse, chair, patient in zip(nurses, chairs, patients, strict=False):
            created.append(
                Appointment.objects.create(
                    clinic=clinic,
                    location=location,
                    provider=nurse,
                    patient=patient,
                    type=kind,
                    start=start,
                    end=start + length,
                    block_end=start + length + dt.timedelta(minutes=kind.buffer_min),
                    chair=chair,
                )
            )
    return created
