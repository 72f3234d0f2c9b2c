"""Thin views: parse, authorize (role gate plus the session's access helper), call, render.

Every charting action posts to ``sessions/<id>/<action>/`` and is dispatched through
``ACTIONS``: one place lists what each action needs (form, roles, service), so the access rule
and the refusal handling are the same for all of them. A refusal re-renders the chart with the
bound form and its errors (422), a stale version with a reload message (409); nothing changes.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from ketaclinic.accounts.access import roles_required
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.services import Actor
from ketaclinic.clinical import charting, gates
from ketaclinic.infusions import forms as f
from ketaclinic.infusions import selectors, services
from ketaclinic.infusions.access import (
    ARRIVAL_RECORDERS,
    CHARTERS,
    SIGNERS,
    access_session,
)
from ketaclinic.infusions.models import InfusionSession, SessionStatus
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.scheduling.models import Appointment, AppointmentKind

BOARD_ROLES = (Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
CHART_ROLES = (Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
POLL_SECONDS = 15


# -- the board ---------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    # Behind roles_required the user is always a clinic user; unlike signed_in_user this does
    # not load the clinic row, which keeps the polled board at its fixed query count.
    user = request.user
    if not isinstance(user, User):
        raise Http404("Page not found")
    return user


def _board_context(request: HttpRequest, location_id: int) -> dict[str, Any]:
    board = selectors.board_for_location(actor=Actor.from_request(request), location_id=location_id)
    user = _user(request)
    return {
        "board": board,
        "poll_seconds": POLL_SECONDS,
        "can_arrive": user.role in ARRIVAL_RECORDERS,
        "can_chart": user.role in CHARTERS,
        "chair_choices": board.free_chairs,
        "backdate_reason_after_min": gates.BACKDATE_REASON_AFTER_MIN,
        "tz": board.location.time_zone,
    }


@roles_required(*BOARD_ROLES)
@require_GET
def board_home(request: HttpRequest) -> HttpResponse:
    location_id = selectors.default_location_id(user=_user(request))
    if location_id is None:
        return render(request, "infusions/board_none.html")
    return render(request, "infusions/board.html", _board_context(request, location_id))


@roles_required(*BOARD_ROLES)
@require_GET
def board(request: HttpRequest, location_id: int) -> HttpResponse:
    return render(request, "infusions/board.html", _board_context(request, location_id))


@roles_required(*BOARD_ROLES)
@require_GET
def board_live(request: HttpRequest, location_id: int) -> HttpResponse:
    """The board's body alone, for the page's htmx poll (every ``POLL_SECONDS``)."""
    return render(request, "infusions/_board.html", _board_context(request, location_id))


@roles_required(*ARRIVAL_RECORDERS)
def arrive(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Check a patient in for today's infusion appointment (POST)."""
    user = _user(request)
    appointment = (
        Appointment.objects.select_related("location")
        .filter(
            clinic_id=user_clinic_id(user), public_id=public_id, type__kind=AppointmentKind.INFUSION
        )
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    chairs = [(c.pk, c.name) for c in appointment.location.chairs.filter(is_active=True)]
    form = f.ArriveForm(request.POST, chairs=chairs, time_zone=appointment.location.time_zone)
    board_url = reverse("infusions:board", kwargs={"location_id": appointment.location_id})
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(board_url)
    try:
        session = services.session_arrive(
            actor=Actor.from_request(request),
            appointment_id=appointment.public_id,
            chair_id=form.cleaned_data["chair"],
            arrived_at=form.cleaned_data["arrived_at"],
            time_reason=form.cleaned_data["time_reason"],
        )
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect(board_url)
    messages.success(request, f"{session.patient.full_name} has arrived.")
    if user.role in CHARTERS:
        return redirect("infusions:session", public_id=session.public_id)
    return redirect(board_url)


# -- the chart ---------------------------------------------------------------------------------


def _round_down(value: float | None) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def _forms(
    chart: selectors.SessionChart, viewer_id: int, bound: dict[str, forms.Form] | None = None
) -> dict[str, forms.Form]:
    """Every chart form, unbound with sensible initial values, unless a bound one is given."""
    session = chart.session
    tz = session.location.time_zone
    base = {"version": session.version}
    # Time fields start blank: blank is the server's time of saving (gate 7), never the time
    # this page was drawn.
    timed = base
    plan_rate = chart.protocol.rate_ml_per_h if chart.protocol else session.plan_rate_ml_per_h
    pump_rate = chart.protocol.pump_rate_ml_per_h if chart.protocol else None
    drawn = chart.controlled.drawn_mg if chart.controlled else None
    given = _round_down(chart.given_mg) if chart.given_mg is not None else Decimal("0")
    if drawn is not None and given is not None and given > drawn:
        given = drawn
    # The witness of a waste is a second person: the one recording is not offered.
    witnesses = [(u.pk, u.display_name) for u in chart.witnesses if u.pk != viewer_id]
    built: dict[str, forms.Form] = {
        "chair": f.ChairForm(
            initial={**base, "chair": session.chair_id},
            chairs=[(c.pk, c.name) for c in chart.chairs],
            time_zone=tz,
        ),
        "precheck": f.PrecheckForm(initial=timed, time_zone=tz),
        "override": f.ReasonForm(initial=base, time_zone=tz, prefix="override"),
        "defer": f.ReasonForm(initial=base, time_zone=tz, prefix="defer"),
        "draw": f.DrawForm(initial=base, time_zone=tz),
        "start": f.StartForm(
            # The pump setting the plan shows (rounded down to the clinic's pump step), which
            # the rate check accepts as it is; plans signed before it existed: the plan's rate.
            initial={
                **timed,
                "rate_ml_per_h": pump_rate if pump_rate is not None else _round_down(plan_rate),
            },
            time_zone=tz,
        ),
        "rate": f.RateForm(
            initial={**timed, "rate_ml_per_h": session.current_rate_ml_per_h}, time_zone=tz
        ),
        "stop": f.StopForm(initial=timed, time_zone=tz, prefix="stop"),
        "vitals": f.VitalsForm(initial=timed, time_zone=tz),
        "cadss": f.CadssForm(initial=timed, time_zone=tz, prefix="cadss"),
        "recovery": f.RecoveryForm(initial=timed, time_zone=tz, prefix="recovery"),
        "acknowledge": f.AcknowledgeForm(initial=base, time_zone=tz),
        "review": f.DeviationReviewForm(initial=base, time_zone=tz, prefix="review"),
        "adverse_event": f.AdverseEventForm(initial=timed, time_zone=tz, prefix="ae"),
        "reconcile": f.ReconcileForm(
            initial={
                **base,
                "given_mg": given,
                "wasted_mg": (drawn - given) if drawn is not None and given is not None else None,
            },
            witnesses=witnesses,
            time_zone=tz,
        ),
        "discharge": f.DischargeForm(initial=base, time_zone=tz),
        "sign": f.SignForm(initial=base, time_zone=tz, prefix="sign"),
        "addendum": f.AddendumForm(initial=base, time_zone=tz),
    }
    built.update(bound or {})
    # One page holds many forms: each gets its own id prefix so labels stay unique.
    for name, form in built.items():
        form.auto_id = f"id_{name}_%s"
    return built


def _render_chart(
    request: HttpRequest,
    public_id: uuid.UUID,
    *,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    chart = selectors.session_chart(actor=Actor.from_request(request), public_id=public_id)
    user = _user(request)
    session = chart.session
    writable = user.role in CHARTERS and not session.is_signed
    context = {
        "chart": chart,
        "session": session,
        "forms": _forms(chart, user.pk, bound),
        "can_chart": writable,
        "can_sign": user.role in SIGNERS and not session.is_signed,
        "can_override": user.role in SIGNERS,
        "can_addendum": user.role in CHARTERS and session.is_signed,
        "tz": session.location.time_zone,
        "S": SessionStatus,
        "dose_source": charting.DOSE_SOURCE,
    }
    return render(request, "infusions/session.html", context, status=status)


@roles_required(*CHART_ROLES)
@require_GET
def session_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _render_chart(request, public_id)


@roles_required(*CHART_ROLES)
@require_GET
def patient_sessions(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    patient, sessions = selectors.patient_sessions(
        actor=Actor.from_request(request), public_id=public_id
    )
    return render(
        request, "infusions/patient_sessions.html", {"patient": patient, "sessions": sessions}
    )


# -- chart actions -----------------------------------------------------------------------------

Run = Callable[[Actor, InfusionSession, Any], str]


@dataclass(frozen=True)
class ActionSpec:
    form: Callable[..., forms.Form]
    run: Run
    roles: frozenset[Role] = CHARTERS
    prefix: str | None = None
    anchor: str = ""


def _v(form: forms.Form) -> int:
    return int(form.cleaned_data["version"])


def _run_chair(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.session_chair_assign(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        chair_id=form.cleaned_data["chair"],
    )
    return "Chair changed."


def _run_precheck(actor: Actor, s: InfusionSession, form: Any) -> str:
    check = services.precheck_record(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        taken_at=form.cleaned_data["taken_at"],
        vitals=form.vitals(),
        fasting=form.cleaned_data["fasting"],
        escort_arranged=form.cleaned_data["escort_arranged"],
        consent_confirmed=form.cleaned_data["consent_confirmed"],
        pain_nrs=form.cleaned_data["pain_nrs"],
        weight_kg=float(form.cleaned_data["weight_kg"]),
        time_reason=form.cleaned_data["time_reason"],
    )
    if check.passed:
        return "Pre-infusion check passed: the infusion may start."
    return "Pre-infusion check not passed: the start is blocked (see the items below)."


def _run_override(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.precheck_override(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        reason=form.cleaned_data["reason"],
    )
    return "Override recorded: the infusion may start."


def _run_defer(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.session_defer(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        reason=form.cleaned_data["reason"],
    )
    return "Infusion deferred."


def _run_draw(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.controlled_draw_record(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        lot=form.cleaned_data["lot"],
        expiry=form.cleaned_data["expiry"],
        drawn_mg=form.cleaned_data["drawn_mg"],
        drawn_at=form.cleaned_data["drawn_at"],
        time_reason=form.cleaned_data["time_reason"],
    )
    return "Ketamine draw recorded."


def _run_start(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.infusion_start(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        at=form.cleaned_data["at"],
        rate_ml_per_h=form.cleaned_data["rate_ml_per_h"],
        time_reason=form.cleaned_data["time_reason"],
    )
    return "Infusion started."


def _run_rate(actor: Actor, s: InfusionSession, form: Any) -> str:
    event = services.infusion_rate_set(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        at=form.cleaned_data["at"],
        rate_ml_per_h=form.cleaned_data["rate_ml_per_h"],
        reason=form.cleaned_data["reason"],
        time_reason=form.cleaned_data["time_reason"],
    )
    return f"{event.get_kind_display()}: {event.rate_ml_per_h} mL/h."


def _run_stop(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.infusion_stop(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        at=form.cleaned_data["at"],
        reason=form.cleaned_data["reason"],
        time_reason=form.cleaned_data["time_reason"],
    )
    return "Infusion stopped: observation has begun."


def _run_vitals(actor: Actor, s: InfusionSession, form: Any) -> str:
    _entry, alerts = services.vitals_record(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        taken_at=form.cleaned_data["taken_at"],
        vitals=form.vitals(),
        rass=form.cleaned_data["rass"],
        moaas=form.cleaned_data["moaas"],
        pain_nrs=form.cleaned_data["pain_nrs"],
        note=form.cleaned_data["note"],
        time_reason=form.cleaned_data["time_reason"],
    )
    if alerts:
        return "Vitals saved. ALERT: " + " ".join(a.message for a in alerts)
    return "Vitals saved."


def _run_cadss(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.cadss_record(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        taken_at=form.cleaned_data["taken_at"],
        answers=form.answers(),
        time_reason=form.cleaned_data["time_reason"],
    )
    return "CADSS-6 saved."


def _run_recovery(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.recovery_assess(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        taken_at=form.cleaned_data["taken_at"],
        aldrete=form.answers(),
        pain_nrs=form.cleaned_data["pain_nrs"],
        time_reason=form.cleaned_data["time_reason"],
    )
    return "Recovery assessment saved."


def _run_acknowledge(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.alert_acknowledge(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        alert_id=form.cleaned_data["alert"],
        action=form.cleaned_data["action"],
        note=form.cleaned_data["note"],
    )
    return "Alert acknowledged."


def _run_adverse_event(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.adverse_event_record(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        kind=form.cleaned_data["kind"],
        severity=form.cleaned_data["severity"],
        onset_at=form.cleaned_data["onset_at"],
        interventions=form.cleaned_data["interventions"],
        outcome=form.cleaned_data["outcome"],
        note=form.cleaned_data["note"],
        time_reason=form.cleaned_data["time_reason"],
    )
    return "Adverse event recorded."


def _run_reconcile(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.controlled_reconcile(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        given_mg=form.cleaned_data["given_mg"],
        wasted_mg=form.cleaned_data["wasted_mg"],
        witness_id=form.cleaned_data["witness"],
        witness_password=form.cleaned_data["witness_password"],
        given_reason=form.cleaned_data["given_reason"],
    )
    return "Controlled-substance record reconciled."


def _run_discharge(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.session_discharge(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        escort_name=form.cleaned_data["escort_name"],
        escort_confirmed=form.cleaned_data["escort_confirmed"],
    )
    return "Patient discharged."


def _run_sign(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.session_sign(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        gap_reason=form.cleaned_data["gap_reason"],
    )
    return "Session signed and locked."


def _run_review(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.dose_deviation_review(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        deviation_id=form.cleaned_data["deviation"],
        note=form.cleaned_data["note"],
    )
    return "Dose deviation reviewed."


def _run_addendum(actor: Actor, s: InfusionSession, form: Any) -> str:
    services.addendum_add(
        actor=actor,
        session_id=s.public_id,
        expected_version=_v(form),
        text=form.cleaned_data["text"],
    )
    return "Addendum added."


ACTIONS: dict[str, ActionSpec] = {
    "chair": ActionSpec(f.ChairForm, _run_chair, anchor="chair"),
    "precheck": ActionSpec(f.PrecheckForm, _run_precheck, anchor="precheck"),
    "override": ActionSpec(f.ReasonForm, _run_override, SIGNERS, "override", "precheck"),
    "defer": ActionSpec(f.ReasonForm, _run_defer, prefix="defer", anchor="precheck"),
    "draw": ActionSpec(f.DrawForm, _run_draw, anchor="controlled"),
    "start": ActionSpec(f.StartForm, _run_start, anchor="administration"),
    "rate": ActionSpec(f.RateForm, _run_rate, anchor="administration"),
    "stop": ActionSpec(f.StopForm, _run_stop, prefix="stop", anchor="administration"),
    "vitals": ActionSpec(f.VitalsForm, _run_vitals, anchor="vitals"),
    "cadss": ActionSpec(f.CadssForm, _run_cadss, prefix="cadss", anchor="scales"),
    "recovery": ActionSpec(f.RecoveryForm, _run_recovery, prefix="recovery", anchor="discharge"),
    "acknowledge": ActionSpec(f.AcknowledgeForm, _run_acknowledge, anchor="alerts"),
    "review": ActionSpec(f.DeviationReviewForm, _run_review, SIGNERS, "review", "alerts"),
    "adverse_event": ActionSpec(f.AdverseEventForm, _run_adverse_event, prefix="ae", anchor="ae"),
    "reconcile": ActionSpec(f.ReconcileForm, _run_reconcile, anchor="controlled"),
    "discharge": ActionSpec(f.DischargeForm, _run_discharge, anchor="discharge"),
    "sign": ActionSpec(f.SignForm, _run_sign, SIGNERS, "sign", "sign"),
    "addendum": ActionSpec(f.AddendumForm, _run_addendum, anchor="addenda"),
}


def _bind(spec: ActionSpec, request: HttpRequest, session: InfusionSession) -> forms.Form:
    kwargs: dict[str, Any] = {"time_zone": session.location.time_zone}
    if spec.prefix:
        kwargs["prefix"] = spec.prefix
    if spec.form is f.ChairForm:
        kwargs["chairs"] = [(c.pk, c.name) for c in session.location.chairs.filter(is_active=True)]
    if spec.form is f.ReconcileForm:
        kwargs["witnesses"] = [
            (pk, "")
            for pk in session.clinic.users.filter(
                role__in=(Role.NURSE, Role.PHYSICIAN), is_active=True
            ).values_list("pk", flat=True)
        ]
    return spec.form(request.POST, **kwargs)


def _attach(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            target = name if name in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


@roles_required(Role.NURSE, Role.PHYSICIAN)
def session_action(request: HttpRequest, public_id: uuid.UUID, action: str) -> HttpResponse:
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("Page not found")
    user = _user(request)
    session = access_session(user, public_id, for_write=True, roles=spec.roles)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = _bind(spec, request, session)
    if not form.is_valid():
        return _render_chart(request, public_id, bound={action: form}, status=422)
    try:
        message = spec.run(Actor.from_request(request), session, form)
    except StaleObjectError as exc:
        messages.error(request, exc.messages[0])
        return _render_chart(request, public_id, status=409)
    except ValidationError as exc:
        _attach(form, exc)
        return _render_chart(request, public_id, bound={action: form}, status=422)
    level = messages.WARNING if "ALERT" in message or "not passed" in message else messages.SUCCESS
    messages.add_message(request, level, message)
    url = reverse("infusions:session", kwargs={"public_id": session.public_id})
    return redirect(f"{url}#{spec.anchor}" if spec.anchor else url)
