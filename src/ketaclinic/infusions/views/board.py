"""The chair board of a location (the whole page, and its body alone for the page's poll) and
the check-in of an expected patient from it."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from ketaclinic.accounts.api import not_activity, roles_required
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.clinical import gates
from ketaclinic.infusions import forms as f
from ketaclinic.infusions import selectors, services
from ketaclinic.infusions.access import ARRIVAL_RECORDERS, CHARTERS
from ketaclinic.infusions.views.common import clinic_user
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.scheduling.models import Appointment, AppointmentKind

BOARD_ROLES = (Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
POLL_SECONDS = 15


def _board_context(request: HttpRequest, location_id: int) -> dict[str, Any]:
    board = selectors.board_for_location(actor=Actor.from_request(request), location_id=location_id)
    user = clinic_user(request)
    return {
        "board": board,
        "poll_seconds": POLL_SECONDS,
        "can_arrive": user.role in ARRIVAL_RECORDERS,
        "can_chart": user.role in CHARTERS,
        "chair_choices": board.free_chairs,
        "backdate_reason_after_min": gates.BACKDATE_REASON_AFTER_MIN,
        "tz": board.location.time_zone,
    }


@roles_required(*BOARD_ROLES)
@require_GET
def board_home(request: HttpRequest) -> HttpResponse:
    location_id = selectors.default_location_id(user=clinic_user(request))
    if location_id is None:
        return render(request, "infusions/board_none.html")
    return render(request, "infusions/board.html", _board_context(request, location_id))


@roles_required(*BOARD_ROLES)
@require_GET
def board(request: HttpRequest, location_id: int) -> HttpResponse:
    return render(request, "infusions/board.html", _board_context(request, location_id))


# The page polls by itself: an unattended board must still time out (accounts/session_timeout.py).
@not_activity
@roles_required(*BOARD_ROLES)
@require_GET
def board_live(request: HttpRequest, location_id: int) -> HttpResponse:
    """The board's body alone, for the page's htmx poll (every ``POLL_SECONDS``)."""
    return render(request, "infusions/_board.html", _board_context(request, location_id))


@roles_required(*ARRIVAL_RECORDERS)
def arrive(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Check a patient in for today's infusion appointment (POST)."""
    user = clinic_user(request)
    appointment = (
        Appointment.objects.select_related("location")
        .filter(
            clinic_id=user_clinic_id(user), public_id=public_id, type__kind=AppointmentKind.INFUSION
        )
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    chairs = [(c.pk, c.name) for c in appointment.location.chairs.filter(is_active=True)]
    form = f.ArriveForm(request.POST, chairs=chairs, time_zone=appointment.location.time_zone)
    board_url = reverse("infusions:board", kwargs={"location_id": appointment.location_id})
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(board_url)
    try:
        session = services.session_arrive(
            actor=Actor.from_request(request),
            appointment_id=appointment.public_id,
            chair_id=form.cleaned_data["chair"],
            arrived_at=form.cleaned_data["arrived_at"],
            time_reason=form.cleaned_data["time_reason"],
        )
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect(board_url)
    messages.success(request, f"{session.patient.full_name} has arrived.")
    if user.role in CHARTERS:
        return redirect("infusions:session", public_id=session.public_id)
    return redirect(board_url)
