"""Thin views: parse, authorize (role gate plus the aggregate's access helper), call, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.accounts.access import roles_required, signed_in_user
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.selectors import AuditFilters, audit_event_list
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.selectors import clinic_overview, staff_locations
from ketaclinic.patients import selectors as patient_selectors
from ketaclinic.patients import services as patient_services
from ketaclinic.scheduling.access import SCHEDULERS
from ketaclinic.web.chart import patient_chart
from ketaclinic.web.forms import AuditFilterForm, PatientForm

STAFF = (Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
REGISTRARS = (Role.FRONT_DESK, Role.PHYSICIAN, Role.CLINIC_ADMIN)


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
        patient = patient_selectors.patient_detail(
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
    patient = patient_selectors.patient_detail(
        actor=Actor.from_request(request),
        public_id=str(signed_in_user(request).patient.public_id),
    )
    return render(request, "web/my_record.html", {"patient": patient})


@roles_required(*STAFF)
@require_GET
def staff_patients(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    rows = patient_selectors.patient_search(actor=Actor.from_request(request), query=query)
    return render(request, "web/staff_patients.html", {"patients": rows, "q": query})


@roles_required(*STAFF)
@require_GET
def staff_patient_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    chart = patient_chart(actor=Actor.from_request(request), public_id=public_id)
    role = signed_in_user(request).role
    return render(
        request,
        "web/staff_patient_detail.html",
        {
            "patient": chart.patient,
            "chart": chart,
            "can_edit": role in REGISTRARS,
            "can_book": role in SCHEDULERS,
            "is_physician": role == Role.PHYSICIAN,
        },
    )


def _apply_errors(form: PatientForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@roles_required(*REGISTRARS)
@require_http_methods(["GET", "POST"])
def staff_patient_new(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = PatientForm(request.POST or None, clinic_id=user.clinic_id)
    if request.method == "POST" and form.is_valid():
        assert user.clinic is not None  # signed_in_user guarantees it
        data = form.cleaned_data
        try:
            patient = patient_services.patient_register(
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
            _apply_errors(form, exc)
        else:
            messages.success(request, f"{patient.full_name} is registered as {patient.mrn}.")
            return redirect("staff_patient_detail", public_id=patient.public_id)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "web/staff_patient_form.html", {"form": form, "new": True}, status=status
    )


@roles_required(*REGISTRARS)
@require_http_methods(["GET", "POST"])
def staff_patient_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = Actor.from_request(request)
    clinic_id = signed_in_user(request).clinic_id
    if request.method == "GET":
        patient = patient_selectors.patient_detail(actor=actor, public_id=public_id)
        form = PatientForm(initial=PatientForm.initial_for(patient), clinic_id=clinic_id)
        return render(request, "web/staff_patient_form.html", {"form": form, "patient": patient})
    form = PatientForm(request.POST, clinic_id=clinic_id)
    if form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            patient = patient_services.patient_update(
                actor=actor,
                public_id=public_id,
                expected_version=form.cleaned_data["version"] or 0,
                changes=changes,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("staff_patient_detail", public_id=patient.public_id)
    return render(request, "web/staff_patient_form.html", {"form": form}, status=422)


@roles_required(Role.CLINIC_ADMIN)
@require_GET
def clinic_page(request: HttpRequest) -> HttpResponse:
    overview = clinic_overview(user=signed_in_user(request))
    return render(request, "web/clinic_overview.html", {"overview": overview})


@roles_required(Role.CLINIC_ADMIN)
@require_GET
def audit_events(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = AuditFilters()
    if form.is_bound:
        if not form.is_valid():
            return render(
                request, "web/audit_events.html", {"form": form, "page": None}, status=422
            )
        data = form.cleaned_data
        filters = AuditFilters(
            action=data["action"],
            object_type=data["object_type"],
            actor_email=data["actor"],
            record_number=data["record_number"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404("No such page") from None
    page = audit_event_list(actor=Actor.from_request(request), filters=filters, page=page_number)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/audit_events.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )
