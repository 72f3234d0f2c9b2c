"""The chart's actions: every charting form posts to ``sessions/<id>/<action>/`` and is
dispatched through ``ACTIONS``, one table of what each action needs (form, service, the
arguments it takes from the form, the message after, roles), so the access rule and the refusal
handling are the same for all of them. A refusal re-renders the chart with the bound form and
its errors (422), a stale version with a reload message (409); nothing changes.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import methodcaller
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse

from ketaclinic.accounts.api import reauthentication_response, roles_required
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.infusions import forms as f
from ketaclinic.infusions import services
from ketaclinic.infusions.access import CHARTERS, SIGNERS, access_session
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.views.chart import render_chart
from ketaclinic.infusions.views.common import clinic_user
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.views import errors_onto_form

# A service argument: the form's cleaned value of that name, or a value the form computes.
Arg = str | Callable[[Any], Any]


@dataclass(frozen=True)
class ActionSpec:
    form: Callable[..., forms.Form]
    service: Callable[..., Any]
    args: Mapping[str, Arg]
    # What the nurse reads after the save: fixed, or worded from what the service returned.
    done: str | Callable[[Any], str]
    roles: frozenset[Role] = CHARTERS
    prefix: str | None = None
    anchor: str = ""
    # A signature: the signer proves who they are again first (accounts/reauth.py).
    reauth: bool = False

    def __post_init__(self) -> None:
        # The table stands in for typed calls: an argument it misnames or leaves out fails when
        # the module is imported, not when a nurse saves.
        inspect.signature(self.service).bind(
            actor=None, session_id=None, expected_version=0, **dict.fromkeys(self.args)
        )

    def run(self, actor: Actor, session: InfusionSession, form: Any) -> str:
        data = form.cleaned_data
        result = self.service(
            actor=actor,
            session_id=session.public_id,
            expected_version=int(data["version"]),
            **{name: arg(form) if callable(arg) else data[arg] for name, arg in self.args.items()},
        )
        return self.done if isinstance(self.done, str) else self.done(result)


def _same(*names: str) -> dict[str, Arg]:
    """Arguments the service names as the form does."""
    return {name: name for name in names}


def _weight(form: Any) -> float:
    return float(form.cleaned_data["weight_kg"])


def _precheck_done(check: Any) -> str:
    if check.passed:
        return "Pre-infusion check passed: the infusion may start."
    return "Pre-infusion check not passed: the start is blocked (see the items below)."


def _rate_done(event: Any) -> str:
    return f"{event.get_kind_display()}: {event.rate_ml_per_h} mL/h."


def _vitals_done(saved: Any) -> str:
    _entry, alerts = saved
    if alerts:
        return "Vitals saved. ALERT: " + " ".join(a.message for a in alerts)
    return "Vitals saved."


_VITALS = methodcaller("vitals")
_ANSWERS = methodcaller("answers")

ACTIONS: dict[str, ActionSpec] = {
    "chair": ActionSpec(
        f.ChairForm,
        services.session_chair_assign,
        {"chair_id": "chair"},
        "Chair changed.",
        anchor="chair",
    ),
    "precheck": ActionSpec(
        f.PrecheckForm,
        services.precheck_record,
        {
            **_same(
                "taken_at",
                "fasting",
                "escort_arranged",
                "consent_confirmed",
                "pain_nrs",
                "time_reason",
            ),
            "vitals": _VITALS,
            "weight_kg": _weight,
        },
        _precheck_done,
        anchor="precheck",
    ),
    "override": ActionSpec(
        f.ReasonForm,
        services.precheck_override,
        _same("reason"),
        "Override recorded: the infusion may start.",
        roles=SIGNERS,
        prefix="override",
        anchor="precheck",
    ),
    "defer": ActionSpec(
        f.ReasonForm,
        services.session_defer,
        _same("reason"),
        "Infusion deferred.",
        prefix="defer",
        anchor="precheck",
    ),
    "draw": ActionSpec(
        f.DrawForm,
        services.controlled_draw_record,
        _same("lot", "expiry", "drawn_mg", "drawn_at", "time_reason"),
        "Ketamine draw recorded.",
        anchor="controlled",
    ),
    "start": ActionSpec(
        f.StartForm,
        services.infusion_start,
        _same("at", "rate_ml_per_h", "time_reason"),
        "Infusion started.",
        anchor="administration",
    ),
    "rate": ActionSpec(
        f.RateForm,
        services.infusion_rate_set,
        _same("at", "rate_ml_per_h", "reason", "time_reason"),
        _rate_done,
        anchor="administration",
    ),
    "stop": ActionSpec(
        f.StopForm,
        services.infusion_stop,
        _same("at", "reason", "time_reason"),
        "Infusion stopped: observation has begun.",
        prefix="stop",
        anchor="administration",
    ),
    "vitals": ActionSpec(
        f.VitalsForm,
        services.vitals_record,
        {
            **_same("taken_at", "rass", "moaas", "pain_nrs", "note", "time_reason"),
            "vitals": _VITALS,
        },
        _vitals_done,
        anchor="vitals",
    ),
    "cadss": ActionSpec(
        f.CadssForm,
        services.cadss_record,
        {**_same("taken_at", "time_reason"), "answers": _ANSWERS},
        "CADSS-6 saved.",
        prefix="cadss",
        anchor="scales",
    ),
    "recovery": ActionSpec(
        f.RecoveryForm,
        services.recovery_assess,
        {**_same("taken_at", "pain_nrs", "time_reason"), "aldrete": _ANSWERS},
        "Recovery assessment saved.",
        prefix="recovery",
        anchor="discharge",
    ),
    "acknowledge": ActionSpec(
        f.AcknowledgeForm,
        services.alert_acknowledge,
        {"alert_id": "alert", **_same("action", "note")},
        "Alert acknowledged.",
        anchor="alerts",
    ),
    "review": ActionSpec(
        f.DeviationReviewForm,
        services.dose_deviation_review,
        {"deviation_id": "deviation", **_same("note")},
        "Dose deviation reviewed.",
        roles=SIGNERS,
        prefix="review",
        anchor="alerts",
    ),
    "adverse_event": ActionSpec(
        f.AdverseEventForm,
        services.adverse_event_record,
        _same("kind", "severity", "onset_at", "interventions", "outcome", "note", "time_reason"),
        "Adverse event recorded.",
        prefix="ae",
        anchor="ae",
    ),
    "reconcile": ActionSpec(
        f.ReconcileForm,
        services.controlled_reconcile,
        {
            **_same("given_mg", "wasted_mg", "given_reason"),
            # The proof the form obtained from the witness's password (ReconcileForm.clean).
            "witness": "witness_proof",
        },
        "Controlled-substance record reconciled.",
        anchor="controlled",
    ),
    "discharge": ActionSpec(
        f.DischargeForm,
        services.session_discharge,
        _same("escort_name", "escort_confirmed"),
        "Patient discharged.",
        anchor="discharge",
    ),
    "sign": ActionSpec(
        f.SignForm,
        services.session_sign,
        _same("gap_reason"),
        "Session signed and locked.",
        roles=SIGNERS,
        prefix="sign",
        anchor="sign",
        reauth=True,
    ),
    "addendum": ActionSpec(
        f.AddendumForm,
        services.addendum_add,
        _same("text"),
        "Addendum added.",
        anchor="addenda",
    ),
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
        kwargs["request"] = request
    return spec.form(request.POST, **kwargs)


@roles_required(Role.NURSE, Role.PHYSICIAN)
def session_action(request: HttpRequest, public_id: uuid.UUID, action: str) -> HttpResponse:
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("Page not found")
    user = clinic_user(request)
    session = access_session(user, public_id, for_write=True, roles=spec.roles)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = _bind(spec, request, session)
    if not form.is_valid():
        return render_chart(request, public_id, bound={action: form}, status=422)
    if spec.reauth:
        # The POST is kept and replayed here once the signer has answered; the session's
        # version is checked on the replay, so a stale chart is still refused.
        asked = reauthentication_response(request)
        if asked is not None:
            return asked
    try:
        message = spec.run(Actor.from_request(request), session, form)
    except StaleObjectError as exc:
        messages.error(request, exc.messages[0])
        return render_chart(request, public_id, status=409)
    except ValidationError as exc:
        errors_onto_form(form, exc)
        return render_chart(request, public_id, bound={action: form}, status=422)
    level = messages.WARNING if "ALERT" in message or "not passed" in message else messages.SUCCESS
    messages.add_message(request, level, message)
    url = reverse("infusions:session", kwargs={"public_id": session.public_id})
    return redirect(f"{url}#{spec.anchor}" if spec.anchor else url)
