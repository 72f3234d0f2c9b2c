"""Thin views: parse, authorize, call a service or selector, render."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ketaclinic.accounts.access import roles_required, signed_in_user
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import Location
from ketaclinic.patients.access import access_patient
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.access import SCHEDULERS, access_appointment
from ketaclinic.scheduling.forms import (
    AppointmentTypeForm,
    AvailabilityExceptionForm,
    BookingPolicyForm,
    PatientDetailsForm,
    WeeklyAvailabilityForm,
)
from ketaclinic.scheduling.links import LinkError, link_resolve
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    BookingPolicy,
    LinkAction,
    WeeklyAvailability,
)
from ketaclinic.scheduling.slots import free_slots, parse_slot_key, slots_by_day

STAFF = (Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
SESSION_KEY = "scheduling.booking"
DAYS_SHOWN = 14


# --- helpers ---------------------------------------------------------------------------------


def _week_start(request: HttpRequest, location: Location) -> dt.date:
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
    try:
        start = dt.date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        start = today
    return max(start, today)


def _slot_page_context(
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


def _posted_slot(request: HttpRequest) -> tuple[int, dt.datetime] | None:
    return parse_slot_key(request.POST.get("slot", ""))


def _refusal(
    request: HttpRequest, exc: services.SchedulingError, location: Location | None = None
) -> None:
    messages.error(request, str(exc))
    if isinstance(exc, services.SlotUnavailableError) and exc.alternatives and location is not None:
        tz = zoneinfo.ZoneInfo(location.time_zone)
        times = ", ".join(f"{s.start.astimezone(tz):%a %d %b %I:%M %p}" for s in exc.alternatives)
        messages.info(request, f"Nearest free times: {times}.")


def _clinic_id(user: User) -> int:
    if user.clinic_id is None:
        raise Http404("Page not found")
    return user.clinic_id


def _local(appointment: Appointment) -> dt.datetime:
    return appointment.start.astimezone(zoneinfo.ZoneInfo(appointment.location.time_zone))


# --- public booking flow ----------------------------------------------------------------------


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
        parsed = _posted_slot(request)
        if parsed is None:
            messages.error(request, "Please choose one of the times shown.")
        else:
            request.session[SESSION_KEY] = {
                "location": location.pk,
                "provider": parsed[0],
                "start": parsed[1].isoformat(),
            }
            return redirect("scheduling:book_confirm")
    context = _slot_page_context(request, location, appointment_type)
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
            _refusal(request, exc, location)
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
    from ketaclinic.screening.handoff import attach_from_session

    attach_from_session(request, actor=Actor.from_request(request), patient=user.patient)


@login_not_required
@require_http_methods(["GET", "POST"])
def book_details(request: HttpRequest) -> HttpResponse:
    """A new patient's details, kept in the session until the account is created (adapter)."""
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


# --- patient portal ---------------------------------------------------------------------------


@roles_required(Role.PATIENT)
@require_http_methods(["GET"])
def my_appointments(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    patient = user.patient
    rows = selectors.patient_appointments(actor=Actor.from_request(request), patient=patient)
    now = timezone.now()
    return render(
        request,
        "scheduling/my_appointments.html",
        {
            "upcoming": [(a, _local(a)) for a in rows if a.start >= now and a.status == "booked"],
            "past": [(a, _local(a)) for a in rows if not (a.start >= now and a.status == "booked")],
            "waitlist": selectors.patient_waitlist(patient=patient),
        },
    )


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def my_appointment_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    appointment = access_appointment(signed_in_user(request), public_id, for_write=True)
    if request.method == "POST":
        try:
            services.appointment_cancel(
                actor=Actor.from_request(request),
                appointment=appointment,
                expected_version=_int(request.POST.get("version")),
            )
        except services.SchedulingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Your appointment is cancelled.")
        return redirect("scheduling:my_appointments")
    return render(
        request,
        "scheduling/cancel_confirm.html",
        {"appointment": appointment, "local_start": _local(appointment), "token": None},
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return -1


def _reschedule_posted(request: HttpRequest, appointment: Appointment, **extra: Any) -> bool:
    """Move the appointment to the posted slot; on a refusal, say why and return False.

    Shared by the portal and the emailed link; a ``LinkError`` is left to the link view.
    """
    parsed = _posted_slot(request)
    if parsed is None:
        messages.error(request, "Please choose one of the times shown.")
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
        _refusal(request, exc, appointment.location)
        return False
    return True


def _reschedule_page(request: HttpRequest, appointment: Appointment, **extra: Any) -> HttpResponse:
    context = _slot_page_context(
        request, appointment.location, appointment.type, ignore_appointment_id=appointment.pk
    )
    context.update({"appointment": appointment, "local_start": _local(appointment), **extra})
    return render(request, "scheduling/reschedule.html", context)


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def my_appointment_reschedule(request: HttpRequest, public_id: str) -> HttpResponse:
    appointment = access_appointment(signed_in_user(request), public_id, for_write=True)
    if request.method == "POST" and _reschedule_posted(
        request, appointment, expected_version=_int(request.POST.get("version"))
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
        messages.error(request, str(exc))
    else:
        messages.success(
            request, "You are on the waitlist. We will email you if an earlier time frees up."
        )
    return redirect("scheduling:my_appointments")


# --- signed links from emails -----------------------------------------------------------------


def _link_or_error(request: HttpRequest, token: str, action: LinkAction) -> Any:
    try:
        return link_resolve(token, action=action)
    except LinkError as exc:
        return render(request, "scheduling/link_error.html", {"message": str(exc)}, status=400)


@login_not_required
@require_http_methods(["GET", "POST"])
def link_cancel(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_error(request, token, LinkAction.CANCEL)
    if isinstance(link, HttpResponse):
        return link
    appointment = link.appointment
    if request.method == "POST":
        try:
            services.appointment_cancel(
                actor=Actor.from_request(request), appointment=appointment, link=link
            )
        except (services.SchedulingError, LinkError) as exc:
            return render(request, "scheduling/link_error.html", {"message": str(exc)}, status=400)
        return render(
            request,
            "scheduling/link_done.html",
            {"message": "Your appointment is cancelled. We emailed you a confirmation."},
        )
    return render(
        request,
        "scheduling/cancel_confirm.html",
        {"appointment": appointment, "local_start": _local(appointment), "token": token},
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def link_reschedule(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_error(request, token, LinkAction.RESCHEDULE)
    if isinstance(link, HttpResponse):
        return link
    appointment = link.appointment
    if request.method == "POST":
        try:
            moved = _reschedule_posted(request, appointment, link=link)
        except LinkError as exc:
            return render(request, "scheduling/link_error.html", {"message": str(exc)}, status=400)
        if moved:
            return render(
                request,
                "scheduling/link_done.html",
                {
                    "message": "Your appointment has moved. We emailed you the new time "
                    "and a calendar update."
                },
            )
    return _reschedule_page(request, appointment, token=token)


@login_not_required
@require_http_methods(["GET", "POST"])
def link_waitlist(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_error(request, token, LinkAction.WAITLIST_ACCEPT)
    if isinstance(link, HttpResponse):
        return link
    offer = link.offer
    if request.method == "POST":
        try:
            services.waitlist_offer_accept(actor=Actor.from_request(request), link=link)
        except (services.SchedulingError, LinkError) as exc:
            return render(request, "scheduling/link_error.html", {"message": str(exc)}, status=400)
        return render(
            request,
            "scheduling/link_done.html",
            {"message": "The earlier time is yours. We emailed you the confirmation."},
        )
    tz = zoneinfo.ZoneInfo(offer.location.time_zone)
    return render(
        request,
        "scheduling/waitlist_offer.html",
        {
            "offer": offer,
            "local_start": offer.start.astimezone(tz),
            "local_expires": offer.expires_at.astimezone(tz),
        },
    )


# --- front desk -------------------------------------------------------------------------------


@roles_required(*STAFF)
@require_http_methods(["GET"])
def desk_bookings(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - dt.timedelta(days=7)
    rows = selectors.recent_bookings(actor=Actor.from_request(request), since=since)
    return render(
        request, "scheduling/desk_bookings.html", {"rows": [(a, _local(a)) for a in rows]}
    )


@roles_required(*SCHEDULERS)
@require_http_methods(["GET", "POST"])
def desk_book(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    patient = access_patient(user, public_id, for_write=True)
    locations = list(Location.objects.filter(clinic_id=_clinic_id(user)))
    location = next(
        (loc for loc in locations if str(loc.pk) == request.GET.get("location", "")),
        patient.home_location or (locations[0] if locations else None),
    )
    appointment_type = selectors.consultation_type(patient.clinic_id, online=False)
    if location is None or appointment_type is None:
        messages.error(request, "Set up locations and appointment types first.")
        return redirect("staff_patient_detail", public_id=patient.public_id)
    if request.method == "POST":
        parsed = _posted_slot(request)
        if parsed is None:
            messages.error(request, "Please choose one of the times shown.")
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
                _refusal(request, exc, location)
            else:
                messages.success(request, f"Booked for {patient.full_name}.")
                return redirect("scheduling:desk_appointment", public_id=appointment.public_id)
    context = _slot_page_context(request, location, appointment_type)
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
        version = _int(request.POST.get("version"))
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
                parsed = _posted_slot(request)
                if parsed is None:
                    raise services.SchedulingError("Please choose one of the times shown.")
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
            _refusal(request, exc, appointment.location)
        return redirect("scheduling:desk_appointment", public_id=appointment.public_id)
    appointment = access_appointment(user, public_id, for_write=False)
    selectors.appointment_read(actor=actor, appointment=appointment)
    context = _slot_page_context(
        request, appointment.location, appointment.type, ignore_appointment_id=appointment.pk
    )
    context.update(
        {
            "appointment": appointment,
            "local_start": _local(appointment),
            "can_change": user.role in SCHEDULERS and appointment.status == "booked",
        }
    )
    return render(request, "scheduling/desk_appointment.html", context)


# --- clinic admin -----------------------------------------------------------------------------


def _errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def admin_types(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    types = AppointmentType.objects.filter(clinic_id=_clinic_id(user))
    instance = None
    if request.GET.get("edit", "").isdigit():
        instance = types.filter(pk=int(request.GET["edit"])).first()
    form = AppointmentTypeForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.appointment_type_save(
                actor=Actor.from_request(request), instance=form.instance
            )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("scheduling:admin_types")
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "scheduling/admin_types.html",
        {"types": list(types), "form": form, "editing": instance},
        status=status,
    )


def _admin_rows_page(
    request: HttpRequest,
    *,
    form_class: Any,
    add: Callable[..., Any],
    remove: Callable[..., None],
    rows: QuerySet[Any],
    template: str,
    url_name: str,
) -> HttpResponse:
    """A clinic-admin list of rows with an add form and a remove button per row."""
    actor = Actor.from_request(request)
    if request.method == "POST" and request.POST.get("remove", "").isdigit():
        try:
            remove(actor=actor, pk=int(request.POST["remove"]))
        except services.SchedulingError as exc:
            messages.error(request, str(exc))
        return redirect(url_name)
    form = form_class(request.POST or None, clinic_id=_clinic_id(signed_in_user(request)))
    if request.method == "POST" and form.is_valid():
        try:
            add(actor=actor, instance=form.instance)
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, "Added.")
            return redirect(url_name)
    status = 422 if request.method == "POST" else 200
    return render(request, template, {"rows": list(rows), "form": form}, status=status)


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def admin_availability(request: HttpRequest) -> HttpResponse:
    clinic_id = _clinic_id(signed_in_user(request))
    return _admin_rows_page(
        request,
        form_class=WeeklyAvailabilityForm,
        add=services.availability_add,
        remove=services.availability_remove,
        rows=WeeklyAvailability.objects.filter(location__clinic_id=clinic_id).select_related(
            "provider", "location"
        ),
        template="scheduling/admin_availability.html",
        url_name="scheduling:admin_availability",
    )


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def admin_exceptions(request: HttpRequest) -> HttpResponse:
    clinic_id = _clinic_id(signed_in_user(request))
    return _admin_rows_page(
        request,
        form_class=AvailabilityExceptionForm,
        add=services.exception_add,
        remove=services.exception_remove,
        rows=AvailabilityException.objects.filter(
            provider__clinic_id=clinic_id, end__gte=timezone.now()
        ).select_related("provider", "location"),
        template="scheduling/admin_exceptions.html",
        url_name="scheduling:admin_exceptions",
    )


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def admin_policy(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    assert user.clinic_id is not None
    policy = BookingPolicy.objects.filter(clinic_id=_clinic_id(user)).first() or BookingPolicy(
        clinic_id=_clinic_id(user)
    )
    form = BookingPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.booking_policy_update(
                    actor=Actor.from_request(request),
                    changes={k: int(v) for k, v in form.cleaned_data.items()},
                )
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("scheduling:admin_policy")
    status = 422 if request.method == "POST" else 200
    return render(request, "scheduling/admin_policy.html", {"form": form}, status=status)
