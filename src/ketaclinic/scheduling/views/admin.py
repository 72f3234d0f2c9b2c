"""Clinic admin setup of the schedule: appointment types, weekly availability, exceptions and
the booking policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.lib.views import errors_onto_form, user_clinic_id
from ketaclinic.scheduling import services
from ketaclinic.scheduling.forms import (
    AppointmentTypeForm,
    AvailabilityExceptionForm,
    BookingPolicyForm,
    WeeklyAvailabilityForm,
)
from ketaclinic.scheduling.models import (
    AppointmentType,
    AvailabilityException,
    BookingPolicy,
    WeeklyAvailability,
)
from ketaclinic.scheduling.views.common import show_refusal


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def admin_types(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    types = AppointmentType.objects.filter(clinic_id=user_clinic_id(user))
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
            errors_onto_form(form, exc)
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
            show_refusal(request, exc)
        return redirect(url_name)
    form = form_class(request.POST or None, clinic_id=user_clinic_id(signed_in_user(request)))
    if request.method == "POST" and form.is_valid():
        try:
            add(actor=actor, instance=form.instance)
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, "Added.")
            return redirect(url_name)
    status = 422 if request.method == "POST" else 200
    return render(request, template, {"rows": list(rows), "form": form}, status=status)


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def admin_availability(request: HttpRequest) -> HttpResponse:
    clinic_id = user_clinic_id(signed_in_user(request))
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
    clinic_id = user_clinic_id(signed_in_user(request))
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
    policy = BookingPolicy.objects.filter(clinic_id=user_clinic_id(user)).first() or BookingPolicy(
        clinic_id=user_clinic_id(user)
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
            errors_onto_form(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("scheduling:admin_policy")
    status = 422 if request.method == "POST" else 200
    return render(request, "scheduling/admin_policy.html", {"form": form}, status=status)
