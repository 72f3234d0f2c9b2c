"""Thin views: parse, authorize, call a service or selector, render."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.accounts.api import reauthentication_response, roles_required, signed_in_user
from ketaclinic.accounts.models import Role, User
from ketaclinic.assessments import selectors, services
from ketaclinic.assessments.access import can_write
from ketaclinic.assessments.forms import (
    AddendumForm,
    ExamForm,
    GradeForm,
    HistoryForm,
    SignForm,
    StartForm,
)
from ketaclinic.assessments.selectors import ConsultationPage
from ketaclinic.audit.api import Actor
from ketaclinic.lib.views import errors_onto_form
from ketaclinic.patients.api import patient_detail
from ketaclinic.scheduling.models import Appointment

READ_ROLES = (Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)


def _detail(public_id: uuid.UUID | str, anchor: str = "") -> HttpResponse:
    url = reverse("assessments:consultation_detail", kwargs={"public_id": public_id})
    return redirect(f"{url}#{anchor}" if anchor else url)


def _page(request: HttpRequest, public_id: uuid.UUID) -> ConsultationPage:
    return selectors.consultation_page(actor=Actor.from_request(request), public_id=str(public_id))


# --- start and list --------------------------------------------------------------------------


@roles_required(Role.PHYSICIAN)
@require_http_methods(["GET", "POST"])
def consultation_new(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    # The page shows who the patient is: an audited patient read.
    patient = patient_detail(
        actor=Actor.from_request(request), public_id=str(public_id), clinical=True
    )
    appointments = list(
        Appointment.objects.filter(patient=patient).select_related("type").order_by("-start")[:20]
    )
    form = StartForm(
        request.POST or None,
        appointments=appointments,
        initial={"exam_date": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            consultation = services.consultation_start(
                actor=Actor.from_request(request),
                patient_public_id=str(patient.public_id),
                exam_date=form.cleaned_data["exam_date"],
                appointment_public_id=form.cleaned_data["appointment"] or None,
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, "Consultation started. Record the history first.")
            return redirect("assessments:consultation_history", public_id=consultation.public_id)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "assessments/consultation_new.html",
        {"form": form, "patient": patient},
        status=status,
    )


@roles_required(*READ_ROLES)
@require_GET
def consultation_list(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    patient, rows = selectors.patient_consultations(
        actor=Actor.from_request(request), patient_public_id=str(public_id)
    )
    return render(
        request,
        "assessments/consultation_list.html",
        {"patient": patient, "rows": rows, "can_write": can_write(signed_in_user(request))},
    )


# --- the consultation page -------------------------------------------------------------------


@roles_required(*READ_ROLES)
@require_GET
def consultation_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    page = _page(request, public_id)
    # request.user, not signed_in_user(): the role is all this needs, without the clinic query.
    writer = isinstance(request.user, User) and can_write(request.user)
    context: dict[str, Any] = {"page": page, "c": page.consultation, "can_write": writer}
    if writer and not page.consultation.is_locked:
        context["sign_form"] = SignForm(initial={"version": page.consultation.version})
    if writer and page.consultation.is_locked:
        context["addendum_form"] = AddendumForm()
    return render(request, "assessments/consultation_detail.html", context)


def _section(
    request: HttpRequest,
    public_id: uuid.UUID,
    *,
    form_class: Any,
    initial: Any,
    save: Any,
    template: str,
    anchor: str,
    form_kwargs: Any = None,
) -> HttpResponse:
    """GET draws the section's form from the record; POST saves it through ``save``.
    ``form_kwargs(page)`` gives the form's extra arguments, on both."""
    page = _page(request, public_id)
    if page.consultation.is_locked and request.method == "GET":
        messages.error(request, services.ConsultationLockedError(page.consultation).messages[0])
        return _detail(public_id)
    extra = form_kwargs(page) if form_kwargs else {}
    if request.method == "POST":
        form = form_class(request.POST, **extra)
        if form.is_valid():
            try:
                save(
                    actor=Actor.from_request(request),
                    public_id=str(public_id),
                    expected_version=form.cleaned_data["version"],
                    form=form,
                )
            except ValidationError as exc:
                errors_onto_form(form, exc)
            else:
                messages.success(request, "Saved.")
                return _detail(public_id, anchor)
        return render(request, template, {"form": form, "page": page}, status=422)
    form = form_class(initial=initial(page, **extra), **extra)
    return render(request, template, {"form": form, "page": page})


@roles_required(Role.PHYSICIAN)
@require_http_methods(["GET", "POST"])
def consultation_history(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    def save(*, form: HistoryForm, **kwargs: Any) -> None:
        services.consultation_history_save(history=form.to_input(), **kwargs)

    return _section(
        request,
        public_id,
        form_class=HistoryForm,
        initial=lambda page, offer: HistoryForm.initial_for(
            page.consultation,
            [f"{c.system}|{c.code}" for c in page.causes],
            {t.therapy: t.outcome for t in page.prior_treatments},
            offer,
        ),
        save=save,
        template="assessments/history_form.html",
        anchor="history",
        # What the patient's self-check offers the values not yet recorded (one query).
        form_kwargs=lambda page: {"offer": selectors.history_offer(page=page)},
    )


@roles_required(Role.PHYSICIAN)
@require_http_methods(["GET", "POST"])
def consultation_exam(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    def save(*, form: ExamForm, **kwargs: Any) -> None:
        services.consultation_exam_save(exam=form.to_input(), **kwargs)

    return _section(
        request,
        public_id,
        form_class=ExamForm,
        initial=lambda page: ExamForm.initial_for(page.consultation),
        save=save,
        template="assessments/exam_form.html",
        anchor="exam",
    )


@roles_required(Role.PHYSICIAN)
@require_http_methods(["GET", "POST"])
def consultation_grade(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    def save(*, form: GradeForm, **kwargs: Any) -> None:
        services.consultation_grade_save(grade=form.to_input(), **kwargs)

    return _section(
        request,
        public_id,
        form_class=GradeForm,
        initial=lambda page: GradeForm.initial_for(page.consultation),
        save=save,
        template="assessments/grade_form.html",
        anchor="grade",
    )


# --- signing and addenda ---------------------------------------------------------------------


@roles_required(Role.PHYSICIAN)
@require_http_methods(["GET", "POST"])
def consultation_sign(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    page = _page(request, public_id)
    if request.method == "GET" and page.consultation.is_locked:
        return _detail(public_id, "decision")
    form = SignForm(request.POST or None, initial={"version": page.consultation.version})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["action"] != "reevaluate":
            # Signing or overriding asks who is at the keyboard (accounts/reauth.py); this POST is
            # replayed here once they have answered. Re-evaluating a draft signs nothing.
            asked = reauthentication_response(request)
            if asked is not None:
                return asked
        actor = Actor.from_request(request)
        common = {"actor": actor, "public_id": str(public_id), "expected_version": data["version"]}
        try:
            if data["action"] == "reevaluate":
                services.decision_reevaluate(**common)
                messages.success(request, "Re-evaluated under the clinic's current settings.")
            elif data["action"] == "override":
                services.decision_override(**common, outcome=data["outcome"], reason=data["reason"])
                messages.success(request, "Decision overridden and signed. The record is locked.")
            else:
                services.decision_sign(**common)
                messages.success(request, "Decision signed. The record is locked.")
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            return _detail(public_id, "decision")
    status = 422 if request.method == "POST" else 200
    return render(request, "assessments/sign.html", {"form": form, "page": page}, status=status)


@roles_required(Role.PHYSICIAN)
@require_http_methods(["GET", "POST"])
def consultation_addendum(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    page = _page(request, public_id)
    form = AddendumForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.addendum_add(
                actor=Actor.from_request(request),
                public_id=str(public_id),
                text=form.cleaned_data["text"],
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, "Addendum added.")
            return _detail(public_id, "addenda")
    status = 422 if request.method == "POST" else 200
    return render(request, "assessments/addendum.html", {"form": form, "page": page}, status=status)
