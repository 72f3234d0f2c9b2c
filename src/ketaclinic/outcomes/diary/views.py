"""Thin views of the pain diary: parse, authorize, call a service or selector, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinical.instruments import get_instrument
from ketaclinic.clinics.api import wear_clinic_brand
from ketaclinic.lib.views import errors_onto_form
from ketaclinic.outcomes import timing, wording
from ketaclinic.outcomes.boosters.selectors import booster_offers_for_patient
from ketaclinic.outcomes.diary import chart_cache, charts, selectors, services
from ketaclinic.outcomes.diary.forms import DiaryEntryForm, PauseForm, ReminderScheduleForm
from ketaclinic.outcomes.diary.links import LinkError, diary_link_resolve
from ketaclinic.outcomes.models import DiaryLink, Instrument
from ketaclinic.outcomes.selectors import DiaryView
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient

CLINICAL_STAFF = (Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)


def _own_patient(request: HttpRequest, *, for_write: bool) -> Patient:
    user = signed_in_user(request)
    patient = Patient.objects.filter(user=user).only("public_id").first()
    if patient is None:
        raise Http404("No patient record")
    return access_patient(user, patient.public_id, for_write=for_write, clinical=True)


def _instrument(code: str) -> str:
    if code not in Instrument.values:
        raise Http404("No such diary entry")
    return code


def _chart(view: DiaryView, *, clinician: bool) -> str:
    relapses = [
        o.durability.relapse_date
        for o in view.outcomes
        if o.durability is not None and o.durability.relapse_date is not None
    ]
    # Drawn once per change of what it shows, then served from the cache (``chart_cache``).
    return chart_cache.pain_chart_cached(
        patient_id=view.patient.pk,
        nrs=view.nrs,
        peg=view.peg,
        series=view.series,
        baseline=view.baseline,
        threshold=view.threshold if clinician else None,
        relapses=relapses if clinician else (),
        today=view.today,
        wide=clinician,
        label=(
            f"Pain diary chart: {len(view.nrs)} daily scores, {len(view.peg)} weekly PEG scores "
            f"and {sum(len(s.sessions) for s in view.series)} infusion sessions"
        ),
    )


# --- patient portal ---------------------------------------------------------------------------


@roles_required(Role.PATIENT)
@require_GET
def my_diary(request: HttpRequest) -> HttpResponse:
    patient = _own_patient(request, for_write=False)
    view = selectors.diary_view(
        actor=Actor.from_request(request), patient=patient, audience="patient"
    )
    today_form = DiaryEntryForm(
        instrument="nrs",
        initial={
            "entry_date": view.today,
            "version": view.today_nrs.version if view.today_nrs else 0,
            **(view.today_nrs.answers if view.today_nrs else {}),
            "note": view.today_nrs.note if view.today_nrs else "",
        },
    )
    return render(
        request,
        "outcomes/my_diary.html",
        {
            "view": view,
            "chart": _chart(view, clinician=False),
            "chart_rows": charts.chart_rows(nrs=view.nrs, peg=view.peg, series=view.series),
            "summary": wording.patient_summary(view),
            "today_form": today_form,
            "booster_offers": booster_offers_for_patient(patient=patient),
        },
    )


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def my_diary_record(request: HttpRequest, instrument: str) -> HttpResponse:
    code = _instrument(instrument)
    patient = _own_patient(request, for_write=True)
    actor = Actor.from_request(request)
    if request.method == "POST":
        form = DiaryEntryForm(request.POST, instrument=code)
        if form.is_valid():
            try:
                services.diary_entry_record(
                    actor=actor,
                    patient=patient,
                    instrument=code,
                    entry_date=form.cleaned_data["entry_date"],
                    answers=form.answers(),
                    note=form.cleaned_data["note"],
                    expected_version=form.cleaned_data["version"] or 0,
                )
            except ValidationError as exc:
                errors_onto_form(form, exc)
            else:
                messages.success(
                    request,
                    f"Saved: {Instrument(code).label} for "
                    f"{form.cleaned_data['entry_date']:%A %d %B %Y}.",
                )
                return redirect("outcomes:my_diary")
        return render(
            request,
            "outcomes/record.html",
            {"form": form, "instrument": get_instrument(code), "code": code},
            status=422,
        )
    view_today = timing.local_today(timing.patient_zone(patient))
    try:
        day = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = view_today
    entry = selectors.diary_entry_for_day(actor=actor, patient=patient, instrument=code, day=day)
    initial: dict[str, Any] = {"entry_date": day, "version": 0}
    if entry is not None:
        initial.update(entry.answers)
        initial.update({"note": entry.note, "version": entry.version})
    form = DiaryEntryForm(instrument=code, initial=initial)
    return render(
        request,
        "outcomes/record.html",
        {"form": form, "instrument": get_instrument(code), "code": code, "existing": entry},
    )


@roles_required(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def my_diary_reminders(request: HttpRequest) -> HttpResponse:
    patient = _own_patient(request, for_write=True)
    actor = Actor.from_request(request)
    schedule = selectors.reminder_schedule_for(actor=actor, patient=patient)
    form = ReminderScheduleForm.for_schedule(schedule)
    pause_form = PauseForm(initial={"version": schedule.version if schedule else None})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "resume":
                services.reminder_schedule_pause(
                    actor=actor,
                    patient=patient,
                    until=None,
                    expected_version=_int(request.POST.get("version")),
                )
                messages.success(request, "Reminders are on again.")
                return redirect("outcomes:my_diary_reminders")
            if action == "pause":
                pause_form = PauseForm(request.POST)
                if pause_form.is_valid():
                    services.reminder_schedule_pause(
                        actor=actor,
                        patient=patient,
                        until=pause_form.cleaned_data["paused_until"],
                        expected_version=pause_form.cleaned_data["version"],
                    )
                    messages.success(
                        request,
                        "Reminders are paused until "
                        f"{pause_form.cleaned_data['paused_until']:%A %d %B %Y}.",
                    )
                    return redirect("outcomes:my_diary_reminders")
            else:
                form = ReminderScheduleForm(request.POST)
                if form.is_valid():
                    data = form.cleaned_data
                    services.reminder_schedule_save(
                        actor=actor,
                        patient=patient,
                        enabled=data["enabled"],
                        time_of_day=data["time_of_day"],
                        daily_nrs=data["daily_nrs"],
                        weekly_peg=data["weekly_peg"],
                        peg_weekday=data["peg_weekday"],
                        paused_until=schedule.paused_until if schedule else None,
                        expected_version=data["version"] or 0,
                    )
                    messages.success(request, "Your reminder settings are saved.")
                    return redirect("outcomes:my_diary_reminders")
        except ValidationError as exc:
            errors_onto_form(pause_form if action == "pause" else form, exc)
        status = 422
    return render(
        request,
        "outcomes/reminders.html",
        {
            "form": form,
            "pause_form": pause_form,
            "schedule": schedule,
            "patient": patient,
            "zone": timing.patient_zone(patient),
        },
        status=status,
    )


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return -1


# --- the emailed link (no log-in) -------------------------------------------------------------


def _link_refusal(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "outcomes/link_error.html", {"message": message}, status=400)


def _someone_else(request: HttpRequest, link: DiaryLink) -> bool:
    """A signed-in visitor who is not the link's patient (a shared computer, a forwarded email):
    refused, so nobody records into another person's diary while signed in as themselves."""
    user = request.user
    if not isinstance(user, User):
        return False
    return not Patient.objects.filter(pk=link.patient_id, user=user).exists()


@login_not_required
@require_http_methods(["GET", "POST"])
def diary_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = diary_link_resolve(token)
    except LinkError as exc:
        return _link_refusal(request, str(exc))
    if _someone_else(request, link):
        return _link_refusal(
            request,
            "This link was emailed to someone else, and you are signed in as another person. "
            "Nothing was saved. Sign out first if the link is yours.",
        )
    # The patient's clinic, not the site's: the visitor is usually not signed in.
    wear_clinic_brand(request, link.patient.clinic_id)
    code = link.instrument
    context: dict[str, Any] = {
        "instrument": get_instrument(code),
        "code": code,
        "day": link.entry_date,
        "token": token,
        "expires_at": link.expires_at,
    }
    if request.method == "POST":
        # The day, the instrument and the patient come from the link row only: whatever else the
        # form posts (a date, another instrument) is not a field of this form and is ignored.
        form = DiaryEntryForm(request.POST, instrument=code, with_date=False)
        if form.is_valid():
            try:
                services.diary_entry_record(
                    actor=Actor.from_request(request),
                    patient=link.patient,
                    instrument=code,
                    entry_date=link.entry_date,
                    answers=form.answers(),
                    note=form.cleaned_data["note"],
                    link=link,
                )
            except LinkError as exc:
                return _link_refusal(request, str(exc))
            except ValidationError as exc:
                errors_onto_form(form, exc)
            else:
                return render(request, "outcomes/link_done.html", context)
        context["form"] = form
        selectors.diary_link_read(actor=Actor.from_request(request), link=link)
        return render(request, "outcomes/link_form.html", context, status=422)
    selectors.diary_link_read(actor=Actor.from_request(request), link=link)
    context["form"] = DiaryEntryForm(instrument=code, with_date=False)
    return render(request, "outcomes/link_form.html", context)


# --- clinician view ---------------------------------------------------------------------------


@roles_required(*CLINICAL_STAFF)
@require_GET
def staff_patient_diary(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    patient = access_patient(user, public_id, for_write=False, clinical=True)
    view = selectors.diary_view(
        actor=Actor.from_request(request), patient=patient, audience="clinician"
    )
    return render(
        request,
        "outcomes/staff_diary.html",
        {
            "patient": patient,
            "view": view,
            "chart": _chart(view, clinician=True),
            "chart_rows": charts.chart_rows(nrs=view.nrs, peg=view.peg, series=view.series),
            "class_words": wording.CLINICIAN_CLASS,
            "source": clinical_outcomes.SOURCE,
        },
    )
