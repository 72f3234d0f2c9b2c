"""The clinic admin's pages for locations and their infusion chairs.

A location's page is also where its chairs are added, renamed and deactivated: the chair
actions are one-button forms that return to it, their refusals shown as messages there.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.audit.api import Actor
from ketaclinic.clinics import selectors, services
from ketaclinic.clinics.access import access_chair, access_location
from ketaclinic.clinics.forms import ChairForm, LocationForm, time_zone_names
from ketaclinic.clinics.models import Chair
from ketaclinic.clinics.services import LOCATION_FIELDS
from ketaclinic.clinics.views.common import (
    ADMIN,
    form_page,
    form_values,
    posted_bool,
    run_action,
    saved_from_form,
)
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.scheduling.models import Appointment, AppointmentStatus

CHAIR_LABELS = {"name": "Chair name"}


@roles_required(ADMIN)
@require_GET
def location_list(request: HttpRequest) -> HttpResponse:
    locations = selectors.locations_for_admin(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(request, "clinics/location_list.html", {"locations": locations})


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def location_new(request: HttpRequest) -> HttpResponse:
    form = LocationForm(request.POST or None)
    location = saved_from_form(
        request,
        form,
        lambda: services.location_create(
            actor=Actor.from_request(request), values=form_values(form, LOCATION_FIELDS)
        ),
    )
    if location is not None:
        messages.success(request, f"Added {location.name}. Now add its chairs.")
        return redirect("clinics:location_edit", location_id=location.pk)
    return form_page(
        request,
        "clinics/location_form.html",
        {"form": form, "location": None, "time_zones": time_zone_names()},
    )


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def location_edit(request: HttpRequest, location_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    location = access_location(actor, location_id)
    form = LocationForm(
        request.POST or None, instance=location if request.method == "GET" else None
    )
    saved = saved_from_form(
        request,
        form,
        lambda: services.location_update(
            actor=actor, location_id=location.pk, values=form_values(form, LOCATION_FIELDS)
        ),
    )
    if saved is not None:
        messages.success(request, "Saved.")
        return redirect("clinics:location_edit", location_id=location.pk)
    return form_page(
        request,
        "clinics/location_form.html",
        {
            "form": form,
            "location": location,
            "chairs": selectors.location_chairs(location=location),
            "chair_form": ChairForm(),
            "time_zones": time_zone_names(),
        },
    )


@roles_required(ADMIN)
@require_POST
def chair_add(request: HttpRequest, location_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    location = access_location(actor, location_id)
    chair = run_action(
        request,
        lambda: services.chair_create(
            actor=actor, location_id=location.pk, name=request.POST.get("name", "")
        ),
        CHAIR_LABELS,
    )
    if chair is not None:
        messages.success(request, f"Added {chair.name}.")
    return redirect("clinics:location_edit", location_id=location.pk)


@roles_required(ADMIN)
@require_POST
def chair_rename(request: HttpRequest, chair_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    renamed = run_action(
        request,
        lambda: services.chair_rename(
            actor=actor, chair_id=chair_id, name=request.POST.get("name", "")
        ),
        CHAIR_LABELS,
    )
    if renamed is None:
        # Refused: nothing was saved, so read the chair again for the page to return to.
        chair = access_chair(actor, chair_id)
    else:
        chair = renamed
        messages.success(request, f"Renamed to {chair.name}.")
    return redirect("clinics:location_edit", location_id=chair.location_id)


def _chair_question(chair: Chair) -> Question:
    booked = Appointment.objects.filter(
        chair=chair, start__gt=timezone.now(), status=AppointmentStatus.BOOKED
    ).count()
    kept = (
        f" The {booked} appointment{'s' if booked != 1 else ''} already booked in it stay "
        "booked: move them on the schedule if the chair is out of use."
        if booked
        else " No appointment is booked in it."
    )
    return Question(
        title=f"Deactivate {chair.name}?",
        consequence=(
            f"New bookings and series at {chair.location.name} will no longer use {chair.name}."
            f"{kept} You can reactivate it at any time; nobody is emailed."
        ),
        confirm=f"Deactivate {chair.name}",
        back_url=reverse("clinics:location_edit", kwargs={"location_id": chair.location_id}),
    )


@roles_required(ADMIN)
@require_POST
def chair_active(request: HttpRequest, chair_id: int) -> HttpResponse:
    is_active = posted_bool(request, "is_active")
    actor = Actor.from_request(request)
    if not is_active and not is_confirmed(request):
        return ask_first(request, _chair_question(access_chair(actor, chair_id)))
    chair = services.chair_set_active(actor=actor, chair_id=chair_id, is_active=is_active)
    verb = "reactivated" if is_active else "deactivated: it is no longer booked"
    messages.success(request, f"{chair.name} {verb}.")
    return redirect("clinics:location_edit", location_id=chair.location_id)
