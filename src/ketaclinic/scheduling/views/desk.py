"""The front desk's bookings: new bookings of the week, book for a patient by phone, and one
appointment to move or cancel (late changes allowed)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Location
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.lib.when import local_text
from ketaclinic.patients.api import access_patient
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.access import SCHEDULERS, access_appointment
from ketaclinic.scheduling.forms import DeskBookForm
from ketaclinic.scheduling.models import Appointment
from ketaclinic.scheduling.views.common import (
    CHOOSE_A_TIME,
    STAFF,
    emailed,
    posted_slot,
    posted_version,
    show_refusal,
    slot_page_context,
)


@roles_required(*STAFF)
@require_http_methods(["GET"])
def desk_bookings(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - dt.timedelta(days=7)
    found = selectors.recent_bookings(
        actor=Actor.from_request(request), since=since, page=request.GET.get("page", 1)
    )
    return render(
        request, "scheduling/desk_bookings.html", {"found": found, "rows": found.object_list}
    )


@roles_required(*SCHEDULERS)
@require_http_methods(["GET", "POST"])
def desk_book(request: HttpRequest, public_id: str) -> HttpResponse:
    """Book any appointment type the desk may book (``selectors.desk_bookable_types``) for a
    patient, at the patient's usual location unless the desk picks another."""
    user = signed_in_user(request)
    patient = access_patient(user, public_id, for_write=True)
    locations = list(Location.objects.filter(clinic_id=user_clinic_id(user)))
    types = selectors.desk_bookable_types(patient.clinic_id)
    usual = selectors.usual_location(patient, locations)
    if usual is None or not types:
        messages.error(request, "Set up locations and appointment types first.")
        return redirect("patients:detail", public_id=patient.public_id)
    picked = {name: request.GET[name] for name in ("location", "type") if name in request.GET}
    form = DeskBookForm(
        {"location": usual.pk, "type": types[0].pk, **picked},
        locations=locations,
        types=types,
        home=patient.home_location,
    )
    valid = form.is_valid()
    location, appointment_type = form.chosen() if valid else (usual, types[0])
    if request.method == "POST" and valid:
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
                messages.success(
                    request, f"Booked {appointment_type.name} for {patient.full_name}."
                )
                return redirect("scheduling:desk_appointment", public_id=appointment.public_id)
    selectors.desk_book_read(actor=Actor.from_request(request), patient=patient)
    context = slot_page_context(request, location, appointment_type)
    context.update(
        {
            "patient": patient,
            "form": form,
            "usual": usual,
            # The week links keep the choice (ids only).
            "slot_query": urlencode({"location": location.pk, "type": appointment_type.pk}),
        }
    )
    # A forged or stale choice (a location or type not offered): named on the form, not booked.
    return render(request, "scheduling/desk_book.html", context, status=200 if valid else 422)


def _cancel_question(appointment: Appointment) -> Question:
    patient = appointment.patient
    return Question(
        title="Cancel this appointment?",
        consequence=(
            f"This cancels {patient.full_name}'s {appointment.type.name} on "
            f"{local_text(appointment.start, appointment.location)} at "
            f"{appointment.location.name}. {emailed(patient)}"
        ),
        confirm="Cancel the appointment",
        back_url=reverse(
            "scheduling:desk_appointment", kwargs={"public_id": appointment.public_id}
        ),
    )


@roles_required(*STAFF)
@require_http_methods(["GET", "POST"])
def desk_appointment(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    actor = Actor.from_request(request)
    if request.method == "POST":
        appointment = access_appointment(user, public_id, for_write=True)
        override = request.POST.get("override_cutoff") == "on"
        version = posted_version(request)
        if request.POST.get("action") == "cancel" and not is_confirmed(request):
            # The confirm page names the patient: a read of their record.
            selectors.appointment_read(actor=actor, appointment=appointment)
            return ask_first(request, _cancel_question(appointment))
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
            "can_change": user.role in SCHEDULERS and appointment.status == "booked",
        }
    )
    return render(request, "scheduling/desk_appointment.html", context)
