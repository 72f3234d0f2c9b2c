"""A session's chart (every section, with a form for each action the viewer may take) and a
patient's list of infusion sessions."""

from __future__ import annotations

import math
import uuid
from decimal import ROUND_DOWN, Decimal

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ketaclinic.accounts.api import roles_required
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.clinical import charting
from ketaclinic.infusions import forms as f
from ketaclinic.infusions import selectors
from ketaclinic.infusions.access import CHARTERS, SIGNERS
from ketaclinic.infusions.models import SessionStatus
from ketaclinic.infusions.views.common import clinic_user

CHART_ROLES = (Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)


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


def render_chart(
    request: HttpRequest,
    public_id: uuid.UUID,
    *,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    chart = selectors.session_chart(actor=Actor.from_request(request), public_id=public_id)
    user = clinic_user(request)
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
    return render_chart(request, public_id)


@roles_required(*CHART_ROLES)
@require_GET
def patient_sessions(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    patient, sessions = selectors.patient_sessions(
        actor=Actor.from_request(request), public_id=public_id
    )
    return render(
        request, "infusions/patient_sessions.html", {"patient": patient, "sessions": sessions}
    )
