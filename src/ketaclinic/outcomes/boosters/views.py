"""Thin views of the booster loop: the physician's queue and decision, the patient's offer."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.clinical.protocols import BOOSTER_SOURCE
from ketaclinic.clinics.models import Location
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.outcomes.boosters import selectors, services
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.api import posted_slot, slot_page_context
from ketaclinic.scheduling.models import AppointmentKind, AppointmentType


def _suggestion(request: HttpRequest, public_id: str) -> BoosterSuggestion:
    found = (
        BoosterSuggestion.objects.filter(
            public_id=public_id, clinic_id=user_clinic_id(signed_in_user(request))
        )
        .select_related("patient", "appointment_type")
        .first()
    )
    if found is None:
        raise Http404("No such suggestion")
    return found


def _infusion_types(clinic_id: int) -> list[AppointmentType]:
    return list(
        AppointmentType.objects.filter(
            clinic_id=clinic_id, kind=AppointmentKind.INFUSION, is_active=True
        ).order_by("name")
    )


def _version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


@roles_required(Role.PHYSICIAN)
@require_GET
def staff_boosters(request: HttpRequest) -> HttpResponse:
    found = selectors.booster_queue(
        actor=Actor.from_request(request),
        clinic_id=user_clinic_id(signed_in_user(request)),
        page=request.GET.get("page", 1),
    )
    return render(
        request,
        "outcomes/boosters.html",
        {"found": found, "rows": found.object_list, "source": BOOSTER_SOURCE},
    )


@roles_required(Role.PHYSICIAN)
@require_http_methods(["GET", "POST"])
def staff_booster(request: HttpRequest, public_id: str) -> HttpResponse:
    suggestion = _suggestion(request, public_id)
    types = _infusion_types(suggestion.clinic_id)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        actor = Actor.from_request(request)
        action = request.POST.get("action", "")
        try:
            if action == "approve":
                chosen: AppointmentType | None = None
                type_id = request.POST.get("appointment_type", "")
                if type_id:
                    chosen = next((t for t in types if str(t.pk) == type_id), None)
                    if chosen is None:
                        raise ValidationError(
                            {"appointment_type": "Choose one of the infusion types listed."}
                        )
                services.booster_suggestion_approve(
                    actor=actor,
                    suggestion=suggestion,
                    appointment_type=chosen,
                    expected_version=_version(request),
                )
                messages.success(request, "Booster approved: the patient has been offered times.")
                return redirect("outcomes:staff_boosters")
            if action == "decline":
                services.booster_suggestion_decline(
                    actor=actor,
                    suggestion=suggestion,
                    reason=request.POST.get("reason", ""),
                    expected_version=_version(request),
                )
                messages.success(request, "Booster declined; the reason is recorded.")
                return redirect("outcomes:staff_boosters")
            errors = {"action": ["Choose approve or decline."]}
        except StaleObjectError as exc:
            errors = {"version": [str(exc)]}
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"action": exc.messages}
        status = 422
    selectors.booster_suggestion_read(
        actor=Actor.from_request(request), suggestion=suggestion, audience="physician"
    )
    return render(
        request,
        "outcomes/booster.html",
        {
            "s": suggestion,
            "types": types,
            "errors": errors,
            "reason": request.POST.get("reason", ""),
            "source": BOOSTER_SOURCE,
            "open": suggestion.status == BoosterStatus.OPEN,
        },
        status=status,
    )


def _own_suggestion(request: HttpRequest, public_id: str) -> tuple[Patient, BoosterSuggestion]:
    user = signed_in_user(request)
    patient = Patient.objects.filter(user=user).select_related("home_location").first()
    found = (
        BoosterSuggestion.objects.filter(
            public_id=public_id,
            patient=patient,
            status__in=[BoosterStatus.APPROVED, BoosterStatus.BOOKED],
        )
        .select_related("appointment_type", "appointment", "patient")
        .first()
        if patient is not None
        else None
    )
    if patient is None or found is None:
        raise Http404("No such offer")
    return patient, found


def _location(patient: Patient) -> Location:
    location = patient.home_location or (
        Location.objects.filter(clinic_id=patient.clinic_id).order_by("pk").first()
    )
    if location is None:
        raise Http404("No location")
    return location


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def my_booster(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, suggestion = _own_suggestion(request, public_id)
    status = 200
    error = ""
    actor = Actor.from_request(request)
    if suggestion.status == BoosterStatus.BOOKED or suggestion.appointment_type is None:
        selectors.booster_suggestion_read(actor=actor, suggestion=suggestion, audience="patient")
        return render(request, "outcomes/my_booster.html", {"s": suggestion, "booked": True})
    location = _location(patient)
    if request.method == "POST":
        posted = posted_slot(request)
        if posted is None:
            error = "Choose one of the free times."
        else:
            try:
                services.booster_book(
                    actor=actor,
                    suggestion=suggestion,
                    location=location,
                    provider_id=posted[0],
                    start=posted[1],
                )
            except ValidationError as exc:  # a SchedulingError is one too
                error = " ".join(exc.messages)
            else:
                messages.success(request, "Your booster appointment is booked.")
                return redirect("outcomes:my_booster", public_id=suggestion.public_id)
        status = 422
    selectors.booster_suggestion_read(actor=actor, suggestion=suggestion, audience="patient")
    context = slot_page_context(request, location, suggestion.appointment_type)
    context.update({"s": suggestion, "error": error, "booked": False})
    return render(request, "outcomes/my_booster.html", context, status=status)
