"""Public online booking: choose a location and a time, give one's details, confirm.

A visitor without an account signs up inside the flow (``accounts/adapter.py``); the chosen
slot waits in the session meanwhile.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Location
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.forms import PatientDetailsForm
from ketaclinic.scheduling.models import AppointmentType
from ketaclinic.scheduling.views.common import (
    CHOOSE_A_TIME,
    posted_slot,
    show_refusal,
    slot_page_context,
)

SESSION_KEY = "scheduling.booking"


@login_not_required
@require_http_methods(["GET"])
def book_start(request: HttpRequest) -> HttpResponse:
    return render(
        request, "scheduling/book_start.html", {"locations": selectors.bookable_locations()}
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def book_slots(request: HttpRequest, location_id: int) -> HttpResponse:
    location = get_object_or_404(Location.objects.select_related("clinic"), pk=location_id)
    appointment_type = selectors.consultation_type(location.clinic_id, online=True)
    if appointment_type is None:
        raise Http404("No online booking here")
    if request.method == "POST":
        parsed = posted_slot(request)
        if parsed is None:
            messages.error(request, CHOOSE_A_TIME)
        else:
            request.session[SESSION_KEY] = {
                "location": location.pk,
                "provider": parsed[0],
                "start": parsed[1].isoformat(),
            }
            return redirect("scheduling:book_confirm")
    context = slot_page_context(request, location, appointment_type)
    return render(request, "scheduling/book_slots.html", context)


def _pending(request: HttpRequest) -> tuple[Location, AppointmentType, int, dt.datetime] | None:
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    try:
        location = Location.objects.select_related("clinic").get(pk=int(data["location"]))
        start = dt.datetime.fromisoformat(str(data["start"]))
        provider_id = int(data["provider"])
    except (KeyError, ValueError, TypeError, Location.DoesNotExist):
        return None
    appointment_type = selectors.consultation_type(location.clinic_id, online=True)
    if appointment_type is None or start.tzinfo is None:
        return None
    return location, appointment_type, provider_id, start


@login_not_required
@require_http_methods(["GET", "POST"])
def book_confirm(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    if pending is None:
        messages.info(request, "Choose a location and a time first.")
        return redirect("scheduling:book")
    location, appointment_type, provider_id, start = pending
    user = request.user
    provider = User.objects.filter(pk=provider_id, clinic_id=location.clinic_id).first()
    context = {
        "location": location,
        "appointment_type": appointment_type,
        "local_start": start.astimezone(zoneinfo.ZoneInfo(location.time_zone)),
        "provider": provider,
    }
    if not isinstance(user, User):
        return render(request, "scheduling/book_account.html", context)
    if not user.is_patient or not hasattr(user, "patient") or user.clinic_id != location.clinic_id:
        messages.error(
            request,
            "Online booking is for patients of this clinic. Staff book by phone from the "
            "front-desk pages.",
        )
        return render(request, "scheduling/book_confirm.html", context, status=403)
    if request.method == "POST":
        try:
            services.appointment_book(
                actor=Actor.from_request(request),
                patient=user.patient,
                location=location,
                appointment_type=appointment_type,
                provider_id=provider_id,
                start=start,
                online=True,
            )
        except services.SchedulingError as exc:
            show_refusal(request, exc, location)
            request.session.pop(SESSION_KEY, None)
            return redirect("scheduling:book_slots", location_id=location.pk)
        request.session.pop(SESSION_KEY, None)
        _attach_selfcheck(request, user)
        messages.success(request, "Your consultation is booked. We have emailed you the details.")
        return redirect("scheduling:my_appointments")
    return render(request, "scheduling/book_confirm.html", context)


def _attach_selfcheck(request: HttpRequest, user: User) -> None:
    """Attach the visitor's self-check (screening app), if this session holds one.

    A new patient's is usually attached already, at sign-up; this covers a patient who took the
    self-check and then signed in instead.
    """
    from ketaclinic.screening.api import attach_from_session

    attach_from_session(request, actor=Actor.from_request(request), patient=user.patient)


@login_not_required
@require_http_methods(["GET", "POST"])
def book_details(request: HttpRequest) -> HttpResponse:
    """A new patient's details, kept in the session until the account is created, then in a
    pending sign-up until the email is verified (accounts/adapter.py, services.signups)."""
    pending = _pending(request)
    if pending is None:
        return redirect("scheduling:book")
    if isinstance(request.user, User):
        return redirect("scheduling:book_confirm")
    form = PatientDetailsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: str(v) for k, v in form.cleaned_data.items()}
        request.session[SESSION_KEY] = {**request.session[SESSION_KEY], "details": data}
        return redirect(f"{reverse('account_signup')}?next={reverse('scheduling:book_confirm')}")
    status = 422 if request.method == "POST" else 200
    return render(request, "scheduling/book_details.html", {"form": form}, status=status)
