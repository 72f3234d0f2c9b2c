"""The clinic analytics page and its CSV export, for physicians and clinic admins."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import Role
from ketaclinic.analytics import charts, selectors
from ketaclinic.analytics.forms import AnalyticsFilterForm
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Clinic

Found = tuple[Clinic, AnalyticsFilterForm, selectors.Filters]


def _filters(request: HttpRequest) -> Found | HttpResponse:
    """The user's clinic, the filter form and its filters, or the page with the filter errors
    (400) when the filters are not valid."""
    clinic = signed_in_user(request).clinic
    assert clinic is not None
    form = AnalyticsFilterForm(request.GET or None, clinic=clinic)
    if not form.is_bound:
        return clinic, form, selectors.Filters()
    if not form.is_valid():
        return render(request, "analytics/clinic.html", {"form": form, "data": None}, status=400)
    data = form.cleaned_data
    return (
        clinic,
        form,
        selectors.Filters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            location=data.get("location"),
        ),
    )


@roles_required(Role.PHYSICIAN, Role.CLINIC_ADMIN)
@require_GET
def clinic_analytics(request: HttpRequest) -> HttpResponse:
    found = _filters(request)
    if isinstance(found, HttpResponse):
        return found
    clinic, form, filters = found
    data = selectors.clinic_analytics(
        actor=Actor.from_request(request), clinic=clinic, filters=filters
    )
    return render(
        request,
        "analytics/clinic.html",
        {
            "form": form,
            "data": data,
            "query": request.GET.urlencode(),
            "km_chart": charts.km_chart_svg(data.curves) if data.curves else "",
        },
    )


@roles_required(Role.PHYSICIAN, Role.CLINIC_ADMIN)
@require_GET
def clinic_analytics_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    found = _filters(request)
    if isinstance(found, HttpResponse):
        return found
    clinic, _, filters = found
    lines = selectors.analytics_csv(
        actor=Actor.from_request(request), clinic=clinic, filters=filters
    )
    # Streamed: the whole export never sits in the web worker's memory.
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="clinic-analytics.csv"'
    return response
