"""The shell's pages: landing, health check, role homes, the patient's own details, the clinic
overview. Thin views: parse, authorize (role gate plus the aggregate's access helper), call, render.

The staff patient pages are in ``patients/views.py``, the audit page in ``audit/views.py``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.api import clinic_overview, staff_locations
from ketaclinic.patients import api as patients_api


@login_not_required
@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "web/landing.html")


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User) and user.is_patient and hasattr(user, "patient"):
        patient = patients_api.patient_detail(
            actor=Actor.from_request(request), public_id=str(user.patient.public_id)
        )
        return render(request, "web/home_patient.html", {"patient": patient})
    if isinstance(user, User) and user.is_clinic_staff:
        return render(
            request, f"web/home_{user.role}.html", {"locations": staff_locations(user=user)}
        )
    # Signed in but with no clinic role (e.g. an operator account): nothing clinical to show.
    return render(request, "web/home_none.html")


@roles_required(Role.PATIENT)
@require_GET
def my_record(request: HttpRequest) -> HttpResponse:
    patient = patients_api.patient_detail(
        actor=Actor.from_request(request),
        public_id=str(signed_in_user(request).patient.public_id),
    )
    return render(request, "web/my_record.html", {"patient": patient})


@roles_required(Role.CLINIC_ADMIN)
@require_GET
def clinic_page(request: HttpRequest) -> HttpResponse:
    overview = clinic_overview(user=signed_in_user(request))
    return render(request, "web/clinic_overview.html", {"overview": overview})
