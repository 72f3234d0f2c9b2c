"""Before the start: the pre-infusion checklist (gates 1, 2 and 5), a physician's override of a
failed check, and the deferral that sends the patient home without an infusion today."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ketaclinic.assessments.api import require_eligibility_in_force
from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import Action
from ketaclinic.clinical import charting, gates, monitoring
from ketaclinic.clinical.monitoring import Finding
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.infusions.access import SIGNERS
from ketaclinic.infusions.models import (
    EntryKind,
    InfusionSession,
    Observation,
    Phase,
    PreInfusionCheck,
)
from ketaclinic.infusions.selectors import current_plan
from ketaclinic.infusions.services._common import (
    _audit,
    _ceiling_today,
    _chart_entry,
    _charted,
    _clinical_error,
    _finding_dict,
    _locked,
    _now,
    _pain,
    _policy,
    _save,
    _tz,
    _user,
    _vital_observations,
    _vitals,
)
from ketaclinic.infusions.states import advance
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.api import announce_appointments_changed


def _day_weight(value: float | None) -> float:
    low, high = charting.DAY_WEIGHT_RANGE_KG
    if value is None:
        raise ValidationError(
            {"weight_kg": "Day's weight: enter the patient's weight measured today (kg)."}
        )
    if not low <= float(value) <= high:
        raise ValidationError(
            {"weight_kg": f"Day's weight: enter a weight from {low:g} to {high:g} kg."}
        )
    return float(value)


def _weight_finding(plan: Plan | None, day_weight: float, policy: ClinicPolicy) -> Finding | None:
    """Gate 2: the day's weight more than the clinic's percentage from the plan's measured one."""
    if plan is None:
        return None
    plan_weight = plan.protocol.weight_kg
    if not charting.weight_changed(
        day_weight_kg=day_weight,
        plan_weight_kg=plan_weight,
        percent=policy.weight_change_percent,
    ):
        return None
    return Finding(
        "weight_changed",
        "weight_kg",
        f"{charting.WEIGHT_GATE}: {day_weight:g} kg is more than {policy.weight_change_percent}% "
        f"from the plan's {plan_weight:g} kg: a physician must revise the plan before the start.",
        charting.WEIGHT_SOURCE,
        day_weight,
        plan_weight,
    )


@transaction.atomic
def precheck_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    vitals: Mapping[str, Any],
    fasting: bool,
    escort_arranged: bool,
    consent_confirmed: bool,
    pain_nrs: int | None,
    weight_kg: float | None = None,
    time_reason: str = "",
) -> PreInfusionCheck:
    """Run the pre-infusion checklist (``clinical.monitoring.precheck``) and store its result.

    A pass clears the start; a failure blocks it until a later check passes or a physician
    overrides it. The check's vitals become the patient's baseline for the rise alerts.
    Readings past an in-infusion alert limit (gate 5) and a day's weight too far from the
    plan's (gate 2) fail it and cannot be overridden.
    """
    session = _locked(actor, session_id, expected_version, "precheck")
    tz = _tz(session)
    # Gate 1: no pre-infusion check (and so no start) without an eligibility decision in force.
    require_eligibility_in_force(
        patient=session.patient,
        today=_now().astimezone(tz).date(),
        action="run the pre-infusion check",
    )
    policy = _policy(session)
    timed = _charted(
        session,
        taken_at,
        policy=policy,
        after=[(session.arrived_at, "the arrival")],
        reason=time_reason,
    )
    at = timed.at
    checked = _vitals(vitals)
    pain = _pain(pain_nrs)
    day_weight = _day_weight(weight_kg)
    plan = current_plan(session.patient)
    try:
        findings = monitoring.precheck(
            vitals=checked,
            fasting=bool(fasting),
            escort_arranged=bool(escort_arranged),
            consent_confirmed=bool(consent_confirmed),
            plan_dose_present=plan is not None,
            policy=policy.monitoring_policy(),
        )
        findings += monitoring.precheck_ceiling(vitals=checked, policy=policy.monitoring_policy())
    except ValueError as exc:
        raise _clinical_error(exc) from None
    weight_finding = _weight_finding(plan, day_weight, policy)
    if weight_finding is not None:
        findings += (weight_finding,)
    blocked_today = _ceiling_today(session, tz)
    entry = _chart_entry(actor, session, timed, kind=EntryKind.PRECHECK, phase=Phase.BEFORE)
    Observation.objects.bulk_create(_vital_observations(entry, session, checked, pain))
    check = PreInfusionCheck(
        session=session,
        entry=entry,
        taken_at=at,
        recorded_by=_user(actor),
        fasting=bool(fasting),
        escort_arranged=bool(escort_arranged),
        consent_confirmed=bool(consent_confirmed),
        plan_dose_present=plan is not None,
        weight_kg=day_weight,
        passed=not findings,
        findings=[_finding_dict(f) for f in findings],
        policy_version=policy.version,
        policy_values=policy.snapshot(),
    )
    check.full_clean(exclude=["session", "entry", "recorded_by"])
    check.save()
    session.plan = plan
    advance(session, "precheck")
    # A reading past an alert limit earlier today keeps the start blocked even after a pass.
    session.start_cleared = not findings and not blocked_today
    session.baseline_systolic_bp = checked.systolic_bp
    session.baseline_diastolic_bp = checked.diastolic_bp
    session.baseline_heart_rate = checked.heart_rate
    if session.last_vitals_at is None or at > session.last_vitals_at:
        session.last_vitals_at = at
    _save(session)
    _audit(
        actor,
        session,
        "precheck",
        passed=not findings,
        failed=[f.code for f in findings],
        policy_version=policy.version,
        **timed.audit,
    )
    return check


@transaction.atomic
def precheck_override(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, reason: str
) -> PreInfusionCheck:
    """A physician clears a failed pre-infusion check with a written reason (audited)."""
    session = _locked(actor, session_id, expected_version, "override", roles=SIGNERS)
    check = session.prechecks.order_by("-recorded_at", "-id").first()
    if check is None or check.passed or check.override_by_id is not None:
        raise ValidationError("The latest pre-infusion check does not need an override.")
    failed = {f.get("code") for f in check.findings}
    if "no_plan_dose" in failed:
        raise ValidationError(
            "There is no signed plan with a ketamine dose: sign a plan first; the dose "
            "cannot be overridden."
        )
    ceiling = [f["message"] for f in check.findings if monitoring.is_ceiling(f.get("code"))]
    if ceiling or _ceiling_today(session, _tz(session)):
        raise ValidationError(
            ceiling[0]
            if ceiling
            else f"{monitoring.OVERRIDE_CEILING_GATE}: a reading today was past an in-infusion "
            "alert limit: no infusion today, and no override can allow it."
        )
    if "weight_changed" in failed:
        raise ValidationError(
            f"{charting.WEIGHT_GATE}: the day's weight is too far from the plan's; a physician "
            "must revise the plan, then record a new pre-infusion check. It cannot be overridden."
        )
    text = reason.strip()
    if len(text) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "reason": f"Write the reason for the override (at least {gates.MIN_REASON_LENGTH} "
                "characters)."
            }
        )
    check.override_by = _user(actor)
    check.override_at = _now()
    check.override_reason = text
    check.full_clean(exclude=["session", "entry", "recorded_by", "override_by"])
    check.save()
    session.start_cleared = True
    _save(session)
    _audit(
        actor,
        session,
        "precheck_override",
        action=Action.OVERRIDE,
        overridden=[f.get("code") for f in check.findings],
    )
    return check


@transaction.atomic
def session_defer(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, reason: str
) -> InfusionSession:
    """Send the patient home without an infusion today (e.g. blood pressure stays high)."""
    session = _locked(actor, session_id, expected_version, "defer")
    text = reason.strip()
    if len(text) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "reason": f"Write why the infusion is deferred (at least {gates.MIN_REASON_LENGTH} "
                "characters)."
            }
        )
    advance(session, "defer")
    session.deferred_reason = text
    _save(session)
    # Given means given (gate 10): the patient's stored results are recomputed without it.
    announce_appointments_changed([session.patient_id])
    _audit(actor, session, "defer")
    return session
