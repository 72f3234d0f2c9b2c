"""Staff pages of patient records: list and search, register, chart, edit. Thin views."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import STAFF_ROLES, Role
from ketaclinic.audit.api import Actor
from ketaclinic.lib.views import errors_onto_form
from ketaclinic.patients import selectors, services
from ketaclinic.patients.forms import PatientForm, PatientSearchForm
from ketaclinic.patients.search import PatientQuery, parse_patient_query
from ketaclinic.patients.views.chart import patient_chart
from ketaclinic.scheduling.api import SCHEDULERS

REGISTRARS = (Role.FRONT_DESK, Role.PHYSICIAN, Role.CLINIC_ADMIN)


# The list's search text lives in the session, never in a URL (a name, a phone number or a date
# of birth would land in the browser history and the access logs): the form posts it here and
# the list redirects to itself; only the page number travels in the query string.
SEARCH_SESSION_KEY = "patients.search"


@roles_required(*STAFF_ROLES)
@require_http_methods(["GET", "POST"])
def staff_patients(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PatientSearchForm(request.POST)
        if "clear" in request.POST:
            request.session.pop(SEARCH_SESSION_KEY, None)
            return redirect("patients:list")
        if form.is_valid():
            request.session[SEARCH_SESSION_KEY] = form.cleaned_data["q"]
            return redirect("patients:list")
        # Refused (a malformed date): the earlier search stays as it was.
        return render(request, "patients/staff_patients.html", {"form": form}, status=422)
    text = str(request.session.get(SEARCH_SESSION_KEY, ""))
    try:
        query = parse_patient_query(text)
    except ValidationError:
        # A search saved before the rules changed: start again rather than fail.
        text, query = "", PatientQuery()
    found = selectors.patient_find(
        actor=Actor.from_request(request), query=query, page=request.GET.get("page", 1)
    )
    return render(
        request,
        "patients/staff_patients.html",
        {
            "form": PatientSearchForm(initial={"q": text}),
            "found": found,
            "searched": bool(query),
            "can_register": signed_in_user(request).role in REGISTRARS,
        },
    )


@roles_required(*STAFF_ROLES)
@require_GET
def staff_patient_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    chart = patient_chart(actor=Actor.from_request(request), public_id=public_id)
    role = signed_in_user(request).role
    return render(
        request,
        "patients/staff_patient_detail.html",
        {
            "patient": chart.patient,
            "chart": chart,
            "can_edit": role in REGISTRARS,
            "can_book": role in SCHEDULERS,
            "is_physician": role == Role.PHYSICIAN,
        },
    )


@roles_required(*REGISTRARS)
@require_http_methods(["GET", "POST"])
def staff_patient_new(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = PatientForm(request.POST or None, clinic_id=user.clinic_id)
    if request.method == "POST" and form.is_valid():
        assert user.clinic is not None  # signed_in_user guarantees it
        data = form.cleaned_data
        try:
            patient = services.patient_register(
                actor=Actor.from_request(request),
                clinic=user.clinic,
                given_name=data["given_name"],
                family_name=data["family_name"],
                date_of_birth=data["date_of_birth"],
                sex=data["sex"],
                email=data["email"],
                phone=data["phone"],
                home_location=data["home_location"],
                referring_physician=data["referring_physician"],
                referring_physician_email=data["referring_physician_email"],
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, f"{patient.full_name} is registered as {patient.mrn}.")
            return redirect("patients:detail", public_id=patient.public_id)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "patients/staff_patient_form.html", {"form": form, "new": True}, status=status
    )


@roles_required(*REGISTRARS)
@require_http_methods(["GET", "POST"])
def staff_patient_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = Actor.from_request(request)
    clinic_id = signed_in_user(request).clinic_id
    if request.method == "GET":
        patient = selectors.patient_detail(actor=actor, public_id=public_id)
        form = PatientForm(initial=PatientForm.initial_for(patient), clinic_id=clinic_id)
        return render(
            request, "patients/staff_patient_form.html", {"form": form, "patient": patient}
        )
    form = PatientForm(request.POST, clinic_id=clinic_id)
    if form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            patient = services.patient_update(
                actor=actor,
                public_id=public_id,
                expected_version=form.cleaned_data["version"] or 0,
                changes=changes,
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("patients:detail", public_id=patient.public_id)
    return render(request, "patients/staff_patient_form.html", {"form": form}, status=422)
