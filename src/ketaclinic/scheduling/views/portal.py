"""The patient's own appointments: list, cancel, move, join the waitlist; and the signed links
from the emails (cancel, move, accept a waitlist offer) that work without signing in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.api import wear_clinic_brand
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed
from ketaclinic.lib.when import local_text
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.access import access_appointment
from ketaclinic.scheduling.links import LinkError, link_resolve
from ketaclinic.scheduling.models import ActionLink, Appointment, LinkAction
from ketaclinic.scheduling.slots import policy_for
from ketaclinic.scheduling.views.common import (
    CHOOSE_A_TIME,
    local_start,
    posted_slot,
    posted_version,
    refusal_text,
    show_refusal,
    slot_page_context,
)

# "Wed 2 Dec, 9:00 AM EST": the deadline as the portal and the emails say it.
DEADLINE_FORMAT = "D j M, g:i A"


def phone_of(appointment: Appointment) -> str:
    return appointment.location.phone or f"{appointment.location.name}"


@roles_required(Role.PATIENT)
@require_http_methods(["GET"])
def my_appointments(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    patient = user.patient
    rows = selectors.patient_appointments(actor=Actor.from_request(request), patient=patient)
    now = timezone.now()
    policy = policy_for(patient.clinic_id)
    coming, past = selectors.visits_split(rows, now=now)
    return render(
        request,
        "scheduling/my_appointments.html",
        {
            "upcoming": [
                (a, selectors.change_window(a, now=now, policy=policy), phone_of(a)) for a in coming
            ],
            "past": past,
            "waitlist": selectors.patient_waitlist(patient=patient),
        },
    )


def _closed_page(
    request: HttpRequest, appointment: Appointment, window: selectors.ChangeWindow, what: str
) -> HttpResponse:
    """Instead of an action that would be refused: why, the deadline, and whom to call."""
    return render(
        request,
        "scheduling/change_closed.html",
        {
            "appointment": appointment,
            "window": window,
            "what": what,
            "phone": phone_of(appointment),
        },
    )


def _cancel_question(appointment: Appointment, back_url: str, back: str) -> Question:
    when = local_text(appointment.start, appointment.location)
    return Question(
        title="Cancel this appointment?",
        consequence=(
            f"This cancels your {appointment.type.name} with "
            f"{appointment.provider.display_name} on {when} at {appointment.location.name}. "
            "We email you a confirmation; the time is offered to someone else."
        ),
        confirm="Yes, cancel it",
        back_url=back_url,
        back=back,
    )


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def my_appointment_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    appointment = access_appointment(signed_in_user(request), public_id, for_write=True)
    if is_confirmed(request):
        try:
            services.appointment_cancel(
                actor=Actor.from_request(request),
                appointment=appointment,
                expected_version=posted_version(request),
            )
        except services.SchedulingError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, "Your appointment is cancelled.")
        return redirect("scheduling:my_appointments")
    selectors.appointment_read(actor=Actor.from_request(request), appointment=appointment)
    window = selectors.change_window(appointment)
    if not window.can_cancel:
        return _closed_page(request, appointment, window, "cancelled")
    question = _cancel_question(appointment, reverse("scheduling:my_appointments"), "Keep it")
    return ask_first(request, question, extra=_version_unless_posted(request, appointment))


def _version_unless_posted(request: HttpRequest, appointment: Appointment) -> list[tuple[str, str]]:
    """The version the confirm page was opened at, when the request did not post one."""
    return [] if "version" in request.POST else [("version", str(appointment.version))]


def _reschedule_posted(request: HttpRequest, appointment: Appointment, **extra: Any) -> bool:
    """Move the appointment to the posted slot; on a refusal, say why and return False.

    Shared by the portal and the emailed link; a ``LinkError`` is left to the link view.
    """
    parsed = posted_slot(request)
    if parsed is None:
        messages.error(request, CHOOSE_A_TIME)
        return False
    try:
        services.appointment_reschedule(
            actor=Actor.from_request(request),
            appointment=appointment,
            provider_id=parsed[0],
            start=parsed[1],
            **extra,
        )
    except services.SchedulingError as exc:
        show_refusal(request, exc, appointment.location)
        return False
    return True


def _reschedule_page(request: HttpRequest, appointment: Appointment, **extra: Any) -> HttpResponse:
    selectors.appointment_read(
        actor=Actor.from_request(request),
        appointment=appointment,
        via="link" if extra.get("token") else "",
    )
    context = slot_page_context(
        request, appointment.location, appointment.type, ignore_appointment_id=appointment.pk
    )
    context.update({"appointment": appointment, "local_start": local_start(appointment), **extra})
    return render(request, "scheduling/reschedule.html", context)


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def my_appointment_reschedule(request: HttpRequest, public_id: str) -> HttpResponse:
    appointment = access_appointment(signed_in_user(request), public_id, for_write=True)
    window = selectors.change_window(appointment)
    if request.method == "GET" and not window.can_move:
        selectors.appointment_read(actor=Actor.from_request(request), appointment=appointment)
        return _closed_page(request, appointment, window, "moved")
    if request.method == "POST" and _reschedule_posted(
        request, appointment, expected_version=posted_version(request)
    ):
        messages.success(request, "Your appointment has moved. We emailed the new time.")
        return redirect("scheduling:my_appointments")
    return _reschedule_page(request, appointment)


@roles_required(Role.PATIENT)
@require_POST
def my_waitlist_join(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    appointment = access_appointment(user, public_id, for_write=True)
    try:
        services.waitlist_join(
            actor=Actor.from_request(request),
            patient=user.patient,
            location=appointment.location,
            appointment_type=appointment.type,
            appointment=appointment,
        )
    except services.SchedulingError as exc:
        show_refusal(request, exc)
    else:
        messages.success(
            request, "You are on the waitlist. We will email you if an earlier time frees up."
        )
    return redirect("scheduling:my_appointments")


# --- signed links from emails -----------------------------------------------------------------


LinkView = Callable[[HttpRequest, str, ActionLink], HttpResponse]


def _link_error(request: HttpRequest, exc: LinkError | services.SchedulingError) -> HttpResponse:
    message = refusal_text(exc) if isinstance(exc, services.SchedulingError) else str(exc)
    return render(request, "scheduling/link_error.html", {"message": message}, status=400)


def _link_done(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "scheduling/link_done.html", {"message": message})


def _link_clinic_id(link: ActionLink) -> int:
    if link.appointment is not None:
        return link.appointment.clinic_id
    assert link.offer is not None  # a link is issued with its appointment or its offer
    return link.offer.entry.clinic_id


def _by_link(
    action: LinkAction,
) -> Callable[[LinkView], Callable[[HttpRequest, str], HttpResponse]]:
    """A page an emailed link opens: the view gets the link's row, or the visitor the error page
    (a spent, expired or forged link, or one made for another action)."""

    def decorate(view: LinkView) -> Callable[[HttpRequest, str], HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, token: str) -> HttpResponse:
            try:
                link = link_resolve(token, action=action)
            except LinkError as exc:
                return _link_error(request, exc)
            # The patient's clinic, not the site's: the visitor is usually not signed in.
            wear_clinic_brand(request, _link_clinic_id(link))
            return view(request, token, link)

        return wrapper

    return decorate


@login_not_required
@require_http_methods(["GET", "POST"])
@_by_link(LinkAction.CANCEL)
def link_cancel(request: HttpRequest, token: str, link: ActionLink) -> HttpResponse:
    appointment = link.appointment
    assert appointment is not None  # issued with its appointment, for that action only
    if is_confirmed(request):
        try:
            services.appointment_cancel(
                actor=Actor.from_request(request), appointment=appointment, link=link
            )
        except (services.SchedulingError, LinkError) as exc:
            return _link_error(request, exc)
        return _link_done(request, "Your appointment is cancelled. We emailed you a confirmation.")
    selectors.appointment_read(
        actor=Actor.from_request(request), appointment=appointment, via="link"
    )
    window = selectors.change_window(appointment)
    if not window.can_cancel:
        return _closed_page(request, appointment, window, "cancelled")
    # Not signed in: going back keeps the appointment and leads to the clinic's front page.
    return ask_first(request, _cancel_question(appointment, "/", "Keep my appointment"))


@login_not_required
@require_http_methods(["GET", "POST"])
@_by_link(LinkAction.RESCHEDULE)
def link_reschedule(request: HttpRequest, token: str, link: ActionLink) -> HttpResponse:
    appointment = link.appointment
    assert appointment is not None  # issued with its appointment, for that action only
    window = selectors.change_window(appointment)
    if request.method == "GET" and not window.can_move:
        selectors.appointment_read(
            actor=Actor.from_request(request), appointment=appointment, via="link"
        )
        return _closed_page(request, appointment, window, "moved")
    if request.method == "POST":
        try:
            moved = _reschedule_posted(request, appointment, link=link)
        except LinkError as exc:
            return _link_error(request, exc)
        if moved:
            return _link_done(
                request,
                "Your appointment has moved. We emailed you the new time and a calendar update.",
            )
    return _reschedule_page(request, appointment, token=token)


@login_not_required
@require_http_methods(["GET", "POST"])
@_by_link(LinkAction.WAITLIST_ACCEPT)
def link_waitlist(request: HttpRequest, token: str, link: ActionLink) -> HttpResponse:
    offer = link.offer
    assert offer is not None  # issued with its offer, for that action only
    if is_confirmed(request):
        try:
            services.waitlist_offer_accept(actor=Actor.from_request(request), link=link)
        except (services.SchedulingError, LinkError) as exc:
            return _link_error(request, exc)
        return _link_done(request, "The earlier time is yours. We emailed you the confirmation.")
    selectors.waitlist_offer_read(actor=Actor.from_request(request), offer=offer)
    location = offer.location
    moving = offer.entry.appointment if offer.entry.appointment_id else None
    consequence = (
        f"Your appointment will be on {local_text(offer.start, location)} at {location.name}"
    )
    if moving is not None:
        consequence += f" instead of {local_text(moving.start, moving.location)}"
    return ask_first(
        request,
        Question(
            title="An earlier time is free",
            consequence=f"{consequence}. We email you the confirmation.",
            details=[
                f"Held for you until {local_text(offer.expires_at, location, DEADLINE_FORMAT)}."
            ],
            confirm="Take this time",
            back_url="/",
            back="Keep my current time",
            danger=False,
        ),
    )
