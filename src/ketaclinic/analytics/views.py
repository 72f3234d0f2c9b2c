"""The clinic analytics page and its CSV export, for physicians and clinic admins."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ketaclinic.accounts.access import roles_required, signed_in_user
from ketaclinic.accounts.models import Role
from ketaclinic.analytics import selectors
from ketaclinic.analytics.forms import AnalyticsFilterForm
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import Clinic


def _filters(request: HttpRequest, clinic: Clinic) -> tuple[AnalyticsFilterForm, selectors.Filters]:
    form = AnalyticsFilterForm(request.GET or None, clinic=clinic)
    if request.GET and form.is_valid():
        data = form.cleaned_data
        return form, selectors.Filters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            location=data.get("location"),
        )
    return form, selectors.Filters()


@roles_required(Role.PHYSICIAN, Role.CLINIC_ADMIN)
@require_GET
def clinic_analytics(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    clinic = user.clinic
    assert clinic is not None
    form, filters = _filters(request, clinic)
    if form.is_bound and not form.is_valid():
        return render(request, "analytics/clinic.html", {"form": form, "data": None}, status=400)
    data = selectors.clinic_analytics(
        actor=Actor.from_request(request), clinic=clinic, filters=filters
    )
    return render(
        request,
        "analytics/clinic.html",
        {"form": form, "data": data, "query": request.GET.urlencode()},
    )


@roles_required(Role.PHYSICIAN, Role.CLINIC_ADMIN)
@require_GET
def clinic_analytics_csv(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    clinic = user.clinic
    assert clinic is not None
    form, filters = _filters(request, clinic)
    if form.is_bound and not form.is_valid():
        return render(request, "analytics/clinic.html", {"form": form, "data": None}, status=400)
    body = selectors.analytics_csv(
        actor=Actor.from_request(request), clinic=clinic, filters=filters
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="clinic-analytics.csv"'
    return response
