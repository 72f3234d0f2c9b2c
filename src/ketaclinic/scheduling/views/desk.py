"""The front desk's bookings: new bookings of the week, book for a patient by phone, and one
appointment to move or cancel (late changes allowed)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Location
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.patients.api import access_patient
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.access import SCHEDULERS, access_appointment
from ketaclinic.scheduling.views.common import (
    CHOOSE_A_TIME,
    STAFF,
    local_start,
    posted_slot,
    posted_version,
    show_refusal,
    slot_page_context,
)


@roles_required(*STAFF)
@require_http_methods(["GET"])
def desk_bookings(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - dt.timedelta(days=7)
    rows = selectors.recent_bookings(actor=Actor.from_request(request), since=since)
    return render(
        request, "scheduling/desk_bookings.html", {"rows": [(a, local_start(a)) for a in rows]}
    )


@roles_required(*SCHEDULERS)
@require_http_methods(["GET", "POST"])
def desk_book(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    patient = access_patient(user, public_id, for_write=True)
    locations = list(Location.objects.filter(clinic_id=user_clinic_id(user)))
    location = next(
        (loc for loc in locations if str(loc.pk) == request.GET.get("location", "")),
        patient.home_location or (locations[0] if locations else None),
    )
    appointment_type = selectors.consultation_type(patient.clinic_id, online=False)
    if location is None or appointment_type is None:
        messages.error(request, "Set up locations and appointment types first.")
        return redirect("patients:detail", public_id=patient.public_id)
    if request.method == "POST":
        parsed = posted_slot(request)
        if parsed is None:
            messages.error(request, CHOOSE_A_TIME)
        else:
            try:
                appointment = services.appointment_book(
                    actor=Actor.from_request(request),
                    patient=patient,
                    location=location,
                    appointment_type=appointment_type,
                    provider_id=parsed[0],
                    start=parsed[1],
                    online=False,
                )
            except services.SchedulingError as exc:
                show_refusal(request, exc, location)
            else:
                messages.success(request, f"Booked for {patient.full_name}.")
                return redirect("scheduling:desk_appointment", public_id=appointment.public_id)
    selectors.desk_book_read(actor=Actor.from_request(request), patient=patient)
    context = slot_page_context(request, location, appointment_type)
    context.update({"patient": patient, "locations": locations})
    return render(request, "scheduling/desk_book.html", context)


@roles_required(*STAFF)
@require_http_methods(["GET", "POST"])
def desk_appointment(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    actor = Actor.from_request(request)
    if request.method == "POST":
        appointment = access_appointment(user, public_id, for_write=True)
        override = request.POST.get("override_cutoff") == "on"
        version = posted_version(request)
        try:
            if request.POST.get("action") == "cancel":
                services.appointment_cancel(
                    actor=actor,
                    appointment=appointment,
                    expected_version=version,
                    override_cutoff=override,
                )
                messages.success(request, "Cancelled. The patient has been emailed.")
            else:
                parsed = posted_slot(request)
                if parsed is None:
                    raise services.SchedulingError(CHOOSE_A_TIME, field="slot")
                services.appointment_reschedule(
                    actor=actor,
                    appointment=appointment,
                    provider_id=parsed[0],
                    start=parsed[1],
                    expected_version=version,
                    override_cutoff=override,
                )
                messages.success(request, "Moved. The patient has been emailed.")
        except services.SchedulingError as exc:
            show_refusal(request, exc, appointment.location)
        return redirect("scheduling:desk_appointment", public_id=appointment.public_id)
    appointment = access_appointment(user, public_id, for_write=False)
    selectors.appointment_read(actor=actor, appointment=appointment)
    context = slot_page_context(
        request, appointment.location, appointment.type, ignore_appointment_id=appointment.pk
    )
    context.update(
        {
            "appointment": appointment,
            "local_start": local_start(appointment),
            "can_change": user.role in SCHEDULERS and appointment.status == "booked",
        }
    )
    return render(request, "scheduling/desk_appointment.html", context)
