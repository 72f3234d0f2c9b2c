"""Clinic admin setup of the schedule: appointment types, weekly availability, exceptions and
the booking policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed
from ketaclinic.lib.views import errors_onto_form, user_clinic_id
from ketaclinic.lib.when import local_text
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
    was_active = instance is not None and instance.is_active
    form = AppointmentTypeForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        if was_active and not form.cleaned_data["is_active"] and not is_confirmed(request):
            assert instance is not None
            return ask_first(
                request,
                Question(
                    title=f"Deactivate {instance.name}?",
                    consequence=(
                        f"{instance.name} can no longer be booked, online or at the desk. "
                        "Appointments already booked stay booked. You can reactivate it at "
                        "any time; nobody is emailed."
                    ),
                    confirm=f"Deactivate {instance.name}",
                    back_url=f"{reverse('scheduling:admin_types')}?edit={instance.pk}",
                ),
            )
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
    describe: Callable[[Any], str],
) -> HttpResponse:
    """A clinic-admin list of rows with an add form and a remove button per row; removing asks
    first, naming the row (``describe``)."""
    actor = Actor.from_request(request)
    if request.method == "POST" and request.POST.get("remove", "").isdigit():
        row = rows.filter(pk=int(request.POST["remove"])).first()
        if row is None:
            # Only a row the list shows is removed here, and only from its confirm page: the
            # service would remove any row of the clinic (an exception already over, say).
            raise Http404("No such row")
        if not is_confirmed(request):
            return ask_first(
                request,
                Question(
                    title="Remove these hours?",
                    consequence=(
                        f"Remove {describe(row)}. Appointments already booked stay booked; "
                        "nobody is emailed."
                    ),
                    confirm="Remove",
                    back_url=reverse(url_name),
                ),
            )
        try:
            remove(actor=actor, pk=row.pk)
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
        describe=lambda r: (
            f"{r.provider.display_name}'s {r.get_weekday_display()} hours, "
            f"{r.start_time:%H:%M} to {r.end_time:%H:%M} at {r.location.name}: no new bookings "
            "in them"
        ),
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
        describe=lambda r: (
            f"{r.provider.display_name}'s {r.get_kind_display().lower()} from "
            f"{local_text(r.start, r.location or settings.TIME_ZONE)} to "
            f"{local_text(r.end, r.location or settings.TIME_ZONE)}"
        ),
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
