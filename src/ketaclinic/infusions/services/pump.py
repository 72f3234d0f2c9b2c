"""The pump: the start (gates 1 to 6 met), rate changes and pauses within the plan and the
clinic's limits, and the stop that begins the observation. A dose given past the plan's total
opens a dose deviation (gate 4, ``_deviations``)."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from ketaclinic.assessments.api import require_eligibility_in_force
from ketaclinic.audit.api import Actor
from ketaclinic.clinical import charting, dosing, gates, monitoring
from ketaclinic.clinical.dosing import DoseLimitExceeded
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.infusions.models import (
    ControlledSubstanceRecord,
    DeviationTrigger,
    InfusionSession,
    RateEvent,
    RateEventKind,
)
from ketaclinic.infusions.selectors import current_plan, day_bounds, given_mg_at
from ketaclinic.infusions.services._common import (
    _audit,
    _ceiling_today,
    _charted,
    _locked,
    _now,
    _policy,
    _save,
    _Timed,
    _tz,
    _user,
)
from ketaclinic.infusions.services._deviations import _deviation_open
from ketaclinic.infusions.services._rates import (
    _check_rate,
    _rate_entered,
)
from ketaclinic.infusions.states import advance, local_clock, require
from ketaclinic.plans.models import KetamineProtocol
from ketaclinic.scheduling.api import announce_appointments_changed


@transaction.atomic
def infusion_start(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    at: dt.datetime | None,
    rate_ml_per_h: Decimal,
    time_reason: str = "",
) -> InfusionSession:
    """Start the pump: only after a passed (or overridden) check, with a drawn, recorded lot,
    at a rate within the plan and the clinic's limits; with baseline vitals just before
    (gate 6), on the day's weight (gate 2), once a day at most (gate 3), and never on a day a
    reading crossed an in-infusion alert limit (gate 5)."""
    session = _locked(actor, session_id, expected_version, None)
    tz = _tz(session)
    if session.started_at is not None:
        raise ValidationError(
            f"The infusion was already started at {local_clock(session.started_at, tz)}."
        )
    require(session, "start")
    if not session.start_cleared:
        raise ValidationError(
            "The pre-infusion check did not pass: recheck, or a physician may override it "
            "with a reason."
        )
    # Gate 1 again at the start: the decision may have expired or been replaced since the check.
    require_eligibility_in_force(
        patient=session.patient, today=_now().astimezone(tz).date(), action="start the infusion"
    )
    plan = current_plan(session.patient)
    if plan is None:
        raise ValidationError("There is no signed plan with a ketamine dose for this session.")
    record: ControlledSubstanceRecord | None = getattr(session, "controlled_substance", None)
    if record is None:
        raise ValidationError("Record the ketamine drawn (lot, expiry, amount) before starting.")
    protocol = plan.protocol
    # mL/h becomes mg/h with the plan's concentration: a syringe drawn at another concentration
    # (the plan was replaced after the draw) would make every dose figure on the chart wrong.
    if Decimal(repr(record.concentration_mg_per_ml)) != Decimal(
        repr(protocol.concentration_mg_per_ml)
    ):
        raise ValidationError(
            f"The ketamine drawn (lot {record.lot}) is {record.concentration_mg_per_ml:g} mg/mL "
            f"but the signed plan now uses {protocol.concentration_mg_per_ml:g} mg/mL: do not "
            "start; defer this session."
        )
    rate_entered = _rate_entered(rate_ml_per_h, start=True)
    if _ceiling_today(session, tz):
        raise ValidationError(
            f"{monitoring.OVERRIDE_CEILING_GATE}: a pre-check reading today was past an "
            "in-infusion alert limit: no infusion today."
        )
    latest_check = session.prechecks.order_by("-recorded_at", "-id").first()
    policy = _policy(session)
    timed = _charted(
        session,
        at,
        field="at",
        policy=policy,
        after=[
            (session.arrived_at, "the arrival"),
            (latest_check.taken_at if latest_check else None, "the pre-infusion check"),
            (record.drawn_at, "the draw"),
        ],
        reason=time_reason,
    )
    start = timed.at
    _day_cap_check(session, tz, start)
    baseline = monitoring.baseline_vitals_missing(
        last_vitals_at=session.last_vitals_at, start_at=start
    )
    if baseline is not None:
        raise ValidationError(baseline.message)
    day_weight = latest_check.weight_kg if latest_check else None
    if day_weight is not None:
        _day_weight_change_check(protocol, day_weight, policy)
    session.plan = plan
    session.plan_rate_mg_per_h = protocol.rate_mg_per_h
    session.plan_rate_ml_per_h = protocol.rate_ml_per_h
    session.plan_total_mg = protocol.total_mg
    session.plan_duration_min = protocol.duration_min
    session.dosing_weight_kg = protocol.dosing_weight_kg
    session.weight_kg = protocol.weight_kg
    session.concentration_mg_per_ml = protocol.concentration_mg_per_ml
    session.pk_model = protocol.pk_model
    rate = _check_rate(session, rate_entered, 0.0, policy)
    if day_weight is not None:
        # After the plan's own checks, so a plan past the limits on its weight says so first.
        _day_weight_limits_check(protocol, day_weight, rate, policy)
    session.policy_version = policy.version
    session.policy_values = policy.snapshot()
    advance(session, "start")
    session.started_at = start
    session.current_rate_ml_per_h = rate_entered
    session.current_rate_mg_per_h = rate
    session.rate_since = start
    session.given_before_mg = 0.0
    event = _rate_event(
        actor,
        session,
        timed,
        kind=RateEventKind.START,
        rate_ml_per_h=rate_entered,
        rate_mg_per_h=rate,
        given_mg=0.0,
        policy=policy,
    )
    event.full_clean(exclude=["session", "recorded_by"])
    event.save()
    _save(session)
    # Given means given (gate 10): from its start the session counts in the patient's results.
    announce_appointments_changed([session.patient_id])
    _audit(
        actor,
        session,
        "start",
        fields=["started_at", "rate_ml_per_h"],
        policy_version=policy.version,
        **timed.audit,
    )
    return session


def _day_cap_check(session: InfusionSession, tz: zoneinfo.ZoneInfo, start: dt.datetime) -> None:
    """Gate 3: at most ``SESSIONS_PER_DAY`` ketamine sessions per patient per calendar day of the
    location (``clinical.gates.day_cap_conflicts``); a session counts once it has a start."""
    day_start, day_end = day_bounds(tz, start)
    started = InfusionSession.objects.filter(
        patient_id=session.patient_id, started_at__gte=day_start, started_at__lt=day_end
    ).exclude(pk=session.pk)
    days = [s.astimezone(tz).date() for s in started.values_list("started_at", flat=True) if s]
    if gates.day_cap_conflicts(days, [start.astimezone(tz).date()]):
        raise ValidationError(
            f"One session per day: {session.patient.full_name} already had a ketamine infusion "
            f"on {start.astimezone(tz):%A %d %B} (at most {gates.SESSIONS_PER_DAY} per day)."
        )


def _day_weight_change_check(
    protocol: KetamineProtocol, day_weight: float, policy: ClinicPolicy
) -> None:
    """Gate 2 at the start: the day's weight still within the clinic's percentage of the plan's
    (the plan may have been revised since the check)."""
    if charting.weight_changed(
        day_weight_kg=day_weight,
        plan_weight_kg=protocol.weight_kg,
        percent=policy.weight_change_percent,
    ):
        raise ValidationError(
            f"{charting.WEIGHT_GATE}: {day_weight:g} kg today is more than "
            f"{policy.weight_change_percent}% from the plan's {protocol.weight_kg:g} kg: a "
            "physician must revise the plan before the start."
        )


def _day_weight_limits_check(
    protocol: KetamineProtocol, day_weight: float, rate: float, policy: ClinicPolicy
) -> None:
    """Gate 2 at the start: the plan's total and the rate within the mg/kg limits on the day's
    weight, not only on the weight the plan was computed with."""
    try:
        dosing.session_dose_check(
            total_mg=protocol.total_mg, dosing_weight_kg=day_weight, limits=policy.dose_limits()
        )
        dosing.rate_limit_check(
            rate_mg_per_h=rate, dosing_weight_kg=day_weight, limits=policy.dose_limits()
        )
    except DoseLimitExceeded as exc:
        parts = [
            f"{value:.3g} {dosing.LIMIT_LABELS[limit][1]}, over the limit of {maximum:g} "
            f"{dosing.LIMIT_LABELS[limit][1]}"
            for limit, value, maximum in exc.exceeded
        ]
        raise ValidationError(
            f"{charting.WEIGHT_GATE}: on today's weight of {day_weight:g} kg the plan is past the "
            f"clinic's limits ({'; '.join(parts)}): a physician must revise the plan."
        ) from None


def _pump_time(
    session: InfusionSession, at: dt.datetime | None, *, policy: ClinicPolicy, reason: str
) -> _Timed:
    """The time of a rate change or the stop (gate 7): never before the start or the last rate
    change, which the dose given so far is counted from."""
    return _charted(
        session,
        at,
        field="at",
        policy=policy,
        after=[(session.started_at, "the start"), (session.rate_since, "the last rate change")],
        reason=reason,
    )


def _rate_event(
    actor: Actor,
    session: InfusionSession,
    timed: _Timed,
    *,
    kind: RateEventKind,
    rate_ml_per_h: Decimal,
    rate_mg_per_h: float,
    given_mg: float,
    policy: ClinicPolicy,
    reason: str = "",
) -> RateEvent:
    """The pump's setting from the charted time on (not saved), with the policy it was checked
    against."""
    return RateEvent(
        session=session,
        kind=kind,
        at=timed.at,
        rate_ml_per_h=rate_ml_per_h,
        rate_mg_per_h=rate_mg_per_h,
        reason=reason.strip()[:300],
        time_reason=timed.reason,
        given_mg=given_mg,
        policy_version=policy.version,
        recorded_by=_user(actor),
    )


@transaction.atomic
def infusion_rate_set(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    at: dt.datetime | None,
    rate_ml_per_h: Decimal,
    reason: str = "",
    time_reason: str = "",
) -> RateEvent:
    """Change the pump rate; 0 pauses, a rate after a pause resumes. Refused past the plan's
    rate or the clinic's limits, or once the plan's total has been given. A dose already past
    the plan's total opens a dose deviation (gate 4)."""
    session = _locked(actor, session_id, expected_version, "rate")
    policy = _policy(session)
    timed = _pump_time(session, at, policy=policy, reason=time_reason)
    when = timed.at
    rate_ml_per_h = _rate_entered(rate_ml_per_h)
    if rate_ml_per_h == session.current_rate_ml_per_h:
        raise ValidationError({"rate_ml_per_h": f"The pump already runs at {rate_ml_per_h} mL/h."})
    given = given_mg_at(session, when)
    rate = _check_rate(session, rate_ml_per_h, given, policy)
    if rate == 0:
        kind = RateEventKind.PAUSE
    elif not session.current_rate_mg_per_h:
        kind = RateEventKind.RESUME
    else:
        kind = RateEventKind.CHANGE
    event = _rate_event(
        actor,
        session,
        timed,
        kind=kind,
        rate_ml_per_h=rate_ml_per_h,
        rate_mg_per_h=rate,
        given_mg=given,
        policy=policy,
        reason=reason,
    )
    event.full_clean(exclude=["session", "recorded_by"])
    event.save()
    session.current_rate_ml_per_h = rate_ml_per_h
    session.current_rate_mg_per_h = rate
    session.rate_since = when
    session.given_before_mg = given
    _deviation_open(actor, session, given=given, trigger=DeviationTrigger.RATE, policy=policy)
    _save(session)
    _audit(
        actor,
        session,
        f"rate_{kind}",
        fields=["rate_ml_per_h"],
        policy_version=policy.version,
        **timed.audit,
    )
    return event


@transaction.atomic
def infusion_stop(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    at: dt.datetime | None,
    reason: str = "",
    time_reason: str = "",
) -> InfusionSession:
    """Stop the pump: the infusion has ended and observation begins (from the minute the stop
    is saved when it is back-dated, gate 7). A dose given past the plan's total opens a dose
    deviation (gate 4)."""
    session = _locked(actor, session_id, expected_version, "stop")
    policy = _policy(session)
    timed = _pump_time(session, at, policy=policy, reason=time_reason)
    when = timed.at
    given = given_mg_at(session, when)
    _rate_event(
        actor,
        session,
        timed,
        kind=RateEventKind.STOP,
        rate_ml_per_h=Decimal("0"),
        rate_mg_per_h=0.0,
        given_mg=given,
        policy=policy,
        reason=reason,
    ).save(force_insert=True)
    advance(session, "stop")
    session.ended_at = when
    session.observed_from = charting.observation_start(ended_at=when, saved_at=_now())
    session.current_rate_ml_per_h = Decimal("0")
    session.current_rate_mg_per_h = 0.0
    session.rate_since = when
    session.given_before_mg = given
    _deviation_open(actor, session, given=given, trigger=DeviationTrigger.STOP, policy=policy)
    _save(session)
    _audit(actor, session, "stop", fields=["ended_at"], **timed.audit)
    return session
