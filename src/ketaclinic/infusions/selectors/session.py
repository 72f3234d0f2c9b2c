"""Reads of one session that the services share with the board and the chart: the plan a session
runs on, the dose given so far, why a running pump must stop, what discharge still waits for,
and the location's calendar day.

They live in the selectors because services may import selectors, never the reverse (the layers
contract in pyproject.toml); apart from ``current_plan`` they read the session row alone, with
no query, so the board can ask them of every chair.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from ketaclinic.clinical import charting, monitoring
from ketaclinic.clinical.dosing import DoseLimits
from ketaclinic.clinical.monitoring import MonitoringPolicy
from ketaclinic.infusions.models import InfusionSession, SessionStatus
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan, PlanStatus


def current_plan(patient: Patient) -> Plan | None:
    """The patient's signed plan with a ketamine protocol, or None (one signed plan at most)."""
    return (
        Plan.objects.filter(patient=patient, status=PlanStatus.SIGNED, protocol__isnull=False)
        .select_related("protocol")
        .first()
    )


def given_mg_at(session: InfusionSession, at: dt.datetime) -> float:
    """The running total given by ``at``, from the current rate and what was given before it."""
    if session.rate_since is None or session.current_rate_mg_per_h is None:
        return session.given_before_mg
    minutes = max((at - session.rate_since).total_seconds() / 60, 0.0)
    return session.given_before_mg + monitoring.infused_mg(
        [(0.0, minutes, session.current_rate_mg_per_h)]
    )


def day_bounds(tz: zoneinfo.ZoneInfo, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar day of ``moment`` at the location, as [start, end)."""
    day = moment.astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def pump_stop_reason(session: InfusionSession, *, limits: DoseLimits, now: dt.datetime) -> str:
    """Why a running pump must stop now, or "": the plan's total has been given, or the amount
    given is past the clinic's limits (``clinical.monitoring.infusion_rate_check`` on the
    current rate). The services refuse any new rate then; this flags the pump still running."""
    if session.status != SessionStatus.INFUSING or not session.current_rate_mg_per_h:
        return ""
    plan_rate, plan_total = session.plan_rate_mg_per_h, session.plan_total_mg
    weight = session.dosing_weight_kg
    if plan_rate is None or plan_total is None or weight is None:
        return ""
    given = given_mg_at(session, now)
    try:
        monitoring.infusion_rate_check(
            rate_mg_per_h=session.current_rate_mg_per_h,
            plan_rate_mg_per_h=plan_rate,
            given_mg=given,
            plan_total_mg=plan_total,
            dosing_weight_kg=weight,
            limits=limits,
        )
    except monitoring.PlannedDoseReached:
        return f"The plan's total of {plan_total:g} mg has been given: stop the infusion."
    except ValueError:
        # DoseLimitExceeded or PlanRateExceeded: the clinic's limits were tightened while the
        # pump ran. The chart's rate form names the limit; the flag only has to be seen.
        return "The pump is past the clinic's current dose limits: stop or slow the infusion."
    return ""


def discharge_missing(
    session: InfusionSession, *, rules: MonitoringPolicy, now: dt.datetime
) -> list[monitoring.Finding]:
    """What still stands between a recovering patient and discharge, from the session row alone
    (no query): the discharge gate (observation from the moment a back-dated stop was saved),
    the vitals after the stop and just before discharge (gate 6), open alerts and open dose
    deviations (gate 4). The escort is confirmed in person, so it is not listed here."""
    ended = session.ended_at
    if ended is None:
        return []
    moment = max(now, session.observed_from or ended)
    gate = monitoring.discharge_check(
        aldrete_answers=session.aldrete_answers,
        escort_confirmed=True,
        infusion_ended_at=session.observed_from or ended,
        now=moment,
        policy=rules,
    )
    missing = list(gate.missing)
    missing += monitoring.discharge_vitals_missing(
        last_vitals_at=session.last_vitals_at, ended_at=ended, now=moment
    )
    if session.open_alerts:
        missing.append(
            monitoring.Finding(
                "open_alerts", "alerts", "Open alerts to acknowledge.", monitoring.ALERT_SOURCE
            )
        )
    if session.open_deviations:
        missing.append(
            monitoring.Finding(
                "open_deviations",
                "deviations",
                f"{charting.DOSE_GATE}: a physician must review it.",
                charting.DOSE_SOURCE,
            )
        )
    return missing
