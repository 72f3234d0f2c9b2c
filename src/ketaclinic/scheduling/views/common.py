"""What the scheduling views of several audiences share: the slot picker's context, the posted
slot and version, and how a refusal is shown (the booster page of ``outcomes`` uses the slot
picker too)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.accounts.models import Role
from ketaclinic.clinics.models import Location
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling import services
from ketaclinic.scheduling.models import Appointment, AppointmentType
from ketaclinic.scheduling.slots import free_slots, parse_slot_key, slots_by_day

STAFF = (Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
DAYS_SHOWN = 14
# The furthest week the slot pages open: the longest booking horizon (BookingPolicy, 366 days).
LATEST_WEEK = dt.timedelta(days=366)
# When the posted slot is not one of the keys a slot page offers (a forged or cut-off form).
CHOOSE_A_TIME = "Please choose one of the times shown."


def _week_start(request: HttpRequest, location: Location) -> dt.date:
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
    try:
        start = dt.date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        start = today
    # No clinic books beyond its horizon (at most a year); a date at the end of the calendar
    # would overflow the week's arithmetic (a 500).
    return min(max(start, today), today + LATEST_WEEK)


def slot_page_context(
    request: HttpRequest,
    location: Location,
    appointment_type: AppointmentType,
    *,
    ignore_appointment_id: int | None = None,
) -> dict[str, Any]:
    start = _week_start(request, location)
    end = start + dt.timedelta(days=DAYS_SHOWN - 1)
    slots = free_slots(
        location=location,
        appointment_type=appointment_type,
        day_from=start,
        day_to=end,
        ignore_appointment_id=ignore_appointment_id,
    )
    tz = zoneinfo.ZoneInfo(location.time_zone)
    return {
        "location": location,
        "appointment_type": appointment_type,
        "days": [
            (day, [(s, s.start.astimezone(tz)) for s in day_slots])
            for day, day_slots in slots_by_day(slots, location)
        ],
        "from": start,
        "next_from": end + dt.timedelta(days=1),
        "prev_from": start - dt.timedelta(days=DAYS_SHOWN),
        "show_prev": start > timezone.now().astimezone(tz).date(),
    }


def posted_slot(request: HttpRequest) -> tuple[int, dt.datetime] | None:
    return parse_slot_key(request.POST.get("slot", ""))


def posted_version(request: HttpRequest) -> int | None:
    """The version the page was opened at; an unreadable one never matches (-1)."""
    value = request.POST.get("version")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return -1


def refusal_text(exc: ValidationError) -> str:
    """A service's refusal as the one sentence a message shows."""
    return " ".join(exc.messages)


def show_refusal(
    request: HttpRequest, exc: ValidationError, location: Location | None = None
) -> None:
    """A refusal on a page without a form to put it on: a message at the top of the next page,
    with the nearest free times when the chosen one was taken (and the location is known)."""
    messages.error(request, refusal_text(exc))
    if isinstance(exc, services.SlotUnavailableError) and exc.alternatives and location is not None:
        tz = zoneinfo.ZoneInfo(location.time_zone)
        times = ", ".join(f"{s.start.astimezone(tz):%a %d %b %I:%M %p}" for s in exc.alternatives)
        messages.info(request, f"Nearest free times: {times}.")


def local_start(appointment: Appointment) -> dt.datetime:
    return appointment.start.astimezone(zoneinfo.ZoneInfo(appointment.location.time_zone))


def emailed(patient: Patient) -> str:
    """The end of a confirm page's consequence sentence: who is emailed, or that nobody can be."""
    if patient.email:
        return f"{patient.full_name} is emailed."
    return f"{patient.full_name} has no email address on file: nobody is emailed, call them."
