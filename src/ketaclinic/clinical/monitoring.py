"""The infusion day's rules: pre-infusion check, alerts, overdue vitals, rates and discharge.

Pure functions over plain data: no Django, no I/O, deterministic. Defaults are
docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]" (evidence:
docs/clinical-sources.md §2.2, §2.3, §2.5); a clinic edits its own copy
(``clinics.ClinicPolicy``) and each check stores the values it used. Invalid input raises
``ValueError`` naming the offending field; nothing is guessed or silently clamped.

What the functions return
-------------------------
A check returns the ``Finding`` objects that fired (an empty tuple means it passed): each names
its code, the form field it concerns, a message for the clinician, the rule's source, and the
value and threshold compared. The callers store the findings and the policy snapshot together,
so a decision explains itself after the clinic's settings move on.

How thresholds are compared
---------------------------
"Defer if BP >= 160/100" is inclusive; "alert on SBP > 180" is strict; "a rise > 30% over the
baseline" is strict and computed in integers (``(value - base) x 100 > percent x base``), so a
rise of exactly 30% does not fire and no floating-point rounding decides a borderline case.
Dose and rate limits are compared exactly on the decimal each number was entered as, the same
way as ``clinical.dosing``.

Where each part lives: ``vitals`` holds the thresholds, sources, ``Finding`` and ``Vitals``;
``administration`` the dose given, pump rates and the controlled-substance record;
``monitoring_gates`` gate 6 and the discharge check. This module holds the checks before the start
and during the infusion, and is where callers import every name of all four from.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from ketaclinic.clinical._validate import require_bool
from ketaclinic.clinical.administration import (
    PlannedDoseReached,
    PlanRateExceeded,
    controlled_substance_check,
    infused_mg,
    infusion_rate_check,
    planned_dose_given,
)
from ketaclinic.clinical.instruments import score
from ketaclinic.clinical.monitoring_gates import (
    MONITORING_GATE,
    DischargeCheck,
    VitalsGap,
    baseline_vitals_missing,
    discharge_check,
    discharge_vitals_missing,
    vitals_gaps,
)
from ketaclinic.clinical.vitals import (
    ALERT_SOURCE,
    CONTROLLED_SUBSTANCE_SOURCE,
    DEFAULT_MONITORING,
    DISCHARGE_SOURCE,
    MONITORING_SOURCE,
    PLAN_RATE_SOURCE,
    PRECHECK_SOURCE,
    VITAL_LIMITS,
    VITAL_LIMITS_SOURCE,
    VITALS_INTERVAL_SOURCE,
    VITALS_SET,
    Finding,
    MonitoringPolicy,
    Vitals,
    _aware,
    _policy,
    _vitals,
)

__all__ = [
    "ALERT_SOURCE",
    "CONTROLLED_SUBSTANCE_SOURCE",
    "DEFAULT_MONITORING",
    "DISCHARGE_SOURCE",
    "MONITORING_GATE",
    "MONITORING_SOURCE",
    "OVERRIDE_CEILING_GATE",
    "PLAN_RATE_SOURCE",
    "PRECHECK_SOURCE",
    "VITALS_INTERVAL_SOURCE",
    "VITALS_SET",
    "VITAL_LIMITS",
    "VITAL_LIMITS_SOURCE",
    "DischargeCheck",
    "Finding",
    "MonitoringPolicy",
    "PlanRateExceeded",
    "PlannedDoseReached",
    "Vitals",
    "VitalsGap",
    "baseline_vitals_missing",
    "controlled_substance_check",
    "discharge_check",
    "discharge_vitals_missing",
    "infused_mg",
    "infusion_rate_check",
    "is_ceiling",
    "planned_dose_given",
    "precheck",
    "precheck_ceiling",
    "sedation_alerts",
    "vital_alerts",
    "vitals_due_at",
    "vitals_gaps",
    "vitals_overdue",
]


# -- before starting ---------------------------------------------------------------------------


def _required(value: int | None, field: str) -> int:
    if value is None:
        raise ValueError(f"{field} is required before starting an infusion")
    return value


def precheck(
    *,
    vitals: Vitals,
    fasting: bool,
    escort_arranged: bool,
    consent_confirmed: bool,
    plan_dose_present: bool,
    policy: MonitoringPolicy = DEFAULT_MONITORING,
) -> tuple[Finding, ...]:
    """The pre-infusion checklist: the items that fail, in form order (none: start may go ahead).

    Blood pressure, heart rate and SpO2 are required (``ValueError`` naming the missing one);
    the respiratory rate is recorded when taken but has no pre-start limit in
    docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]".
    Source: ``PRECHECK_SOURCE``.
    """
    checked = _vitals(vitals, "vitals")
    rules = _policy(policy)
    systolic = _required(checked.systolic_bp, "systolic_bp")
    # Vitals refuses a systolic without a diastolic, so this one is present too.
    diastolic = _required(checked.diastolic_bp, "diastolic_bp")
    heart_rate = _required(checked.heart_rate, "heart_rate")
    spo2 = _required(checked.spo2, "spo2")
    findings: list[Finding] = []
    if systolic >= rules.precheck_max_systolic_bp:
        findings.append(
            Finding(
                "systolic_bp_high",
                "systolic_bp",
                f"Systolic BP {systolic} mmHg is at or above "
                f"{rules.precheck_max_systolic_bp}: defer the infusion.",
                PRECHECK_SOURCE,
                systolic,
                rules.precheck_max_systolic_bp,
            )
        )
    if diastolic >= rules.precheck_max_diastolic_bp:
        findings.append(
            Finding(
                "diastolic_bp_high",
                "diastolic_bp",
                f"Diastolic BP {diastolic} mmHg is at or above "
                f"{rules.precheck_max_diastolic_bp}: defer the infusion.",
                PRECHECK_SOURCE,
                diastolic,
                rules.precheck_max_diastolic_bp,
            )
        )
    if heart_rate > rules.precheck_max_heart_rate:
        findings.append(
            Finding(
                "heart_rate_high",
                "heart_rate",
                f"Resting heart rate {heart_rate}/min is above "
                f"{rules.precheck_max_heart_rate}: defer the infusion.",
                PRECHECK_SOURCE,
                heart_rate,
                rules.precheck_max_heart_rate,
            )
        )
    if spo2 < rules.precheck_min_spo2:
        findings.append(
            Finding(
                "spo2_low",
                "spo2",
                f"SpO2 {spo2}% on room air is below {rules.precheck_min_spo2}%: "
                "defer the infusion.",
                PRECHECK_SOURCE,
                spo2,
                rules.precheck_min_spo2,
            )
        )
    for field, value, code, message in (
        ("fasting", fasting, "not_fasting", "The patient has not fasted as instructed."),
        (
            "escort_arranged",
            escort_arranged,
            "no_escort",
            "No responsible adult escort is arranged for the journey home.",
        ),
        (
            "consent_confirmed",
            consent_confirmed,
            "no_consent",
            "Consent for this infusion is not confirmed.",
        ),
        (
            "plan_dose_present",
            plan_dose_present,
            "no_plan_dose",
            "There is no signed plan with a ketamine dose for this session.",
        ),
    ):
        if not require_bool(value, field):
            findings.append(Finding(code, field, message, PRECHECK_SOURCE))
    return tuple(findings)


# -- during the infusion -----------------------------------------------------------------------


def _rise(value: int, base: int, percent: int) -> bool:
    # Integers only: (value - base) / base > percent / 100, without division or rounding.
    return (value - base) * 100 > percent * base


def vital_alerts(
    *,
    vitals: Vitals,
    baseline: Vitals | None = None,
    policy: MonitoringPolicy = DEFAULT_MONITORING,
) -> tuple[Finding, ...]:
    """Alerts for one set of vitals: absolute limits, and a blood-pressure rise over the
    patient's own baseline (the pre-infusion vitals) when one is given.

    A low SpO2 fires on the reading; the message asks the nurse to confirm it is sustained,
    which the acknowledgement then records. Source: ``ALERT_SOURCE``.
    """
    checked = _vitals(vitals, "vitals")
    base = None if baseline is None else _vitals(baseline, "baseline")
    rules = _policy(policy)
    findings: list[Finding] = []
    if checked.systolic_bp is not None and checked.diastolic_bp is not None:
        for field, value, limit, label in (
            ("systolic_bp", checked.systolic_bp, rules.alert_systolic_bp, "Systolic"),
            ("diastolic_bp", checked.diastolic_bp, rules.alert_diastolic_bp, "Diastolic"),
        ):
            if value > limit:
                findings.append(
                    Finding(
                        f"{field}_high",
                        field,
                        f"{label} BP {value} mmHg is above {limit}: pause or slow the "
                        "infusion and recheck.",
                        ALERT_SOURCE,
                        value,
                        limit,
                    )
                )
            base_value = None if base is None else getattr(base, field)
            if base_value is not None and _rise(value, base_value, rules.alert_bp_rise_percent):
                findings.append(
                    Finding(
                        f"{field}_rise",
                        field,
                        f"{label} BP {value} mmHg is more than {rules.alert_bp_rise_percent}% "
                        f"above the patient's baseline of {base_value}: pause or slow the "
                        "infusion and recheck.",
                        ALERT_SOURCE,
                        value,
                        base_value * (100 + rules.alert_bp_rise_percent) / 100,
                    )
                )
    if checked.heart_rate is not None and checked.heart_rate > rules.alert_heart_rate:
        findings.append(
            Finding(
                "heart_rate_high",
                "heart_rate",
                f"Heart rate {checked.heart_rate}/min is above {rules.alert_heart_rate}.",
                ALERT_SOURCE,
                checked.heart_rate,
                rules.alert_heart_rate,
            )
        )
    if checked.new_arrhythmia:
        findings.append(
            Finding(
                "arrhythmia",
                "new_arrhythmia",
                "A new arrhythmia was noted.",
                ALERT_SOURCE,
            )
        )
    if checked.spo2 is not None and checked.spo2 < rules.alert_spo2:
        findings.append(
            Finding(
                "spo2_low",
                "spo2",
                f"SpO2 {checked.spo2}% is below {rules.alert_spo2}%: check the probe and "
                "confirm it is sustained.",
                ALERT_SOURCE,
                checked.spo2,
                rules.alert_spo2,
            )
        )
    if (
        checked.respiratory_rate is not None
        and checked.respiratory_rate < rules.alert_respiratory_rate
    ):
        findings.append(
            Finding(
                "respiratory_rate_low",
                "respiratory_rate",
                f"Respiratory rate {checked.respiratory_rate}/min is below "
                f"{rules.alert_respiratory_rate}.",
                ALERT_SOURCE,
                checked.respiratory_rate,
                rules.alert_respiratory_rate,
            )
        )
    return tuple(findings)


def sedation_alerts(
    *,
    rass: int | None = None,
    moaas: int | None = None,
    policy: MonitoringPolicy = DEFAULT_MONITORING,
) -> tuple[Finding, ...]:
    """Alerts for the sedation scales charted (RASS or MOAA/S, or both).

    The levels are checked by ``clinical.instruments`` (RASS -5..+4, MOAA/S 0..5).
    Source: ``ALERT_SOURCE``.
    """
    rules = _policy(policy)
    findings: list[Finding] = []
    # RASS levels are signed (-5..+4), so they are shown with their sign; MOAA/S (0..5) is not.
    for code, label, level, limit, shown in (
        ("rass", "RASS", rass, rules.alert_rass, "+d"),
        ("moaas", "MOAA/S", moaas, rules.alert_moaas, ""),
    ):
        if level is None:
            continue
        score(code, {"level": level})
        if level <= limit:
            findings.append(
                Finding(
                    f"{code}_low",
                    code,
                    f"{label} {level:{shown}} is at or below {limit:{shown}}: deep sedation, "
                    "stop or slow the infusion.",
                    ALERT_SOURCE,
                    level,
                    limit,
                )
            )
    return tuple(findings)


def vitals_due_at(
    *,
    last_vitals_at: dt.datetime | None,
    monitoring_since: dt.datetime,
    policy: MonitoringPolicy = DEFAULT_MONITORING,
) -> dt.datetime:
    """When the next set of vitals is due: the interval after the later of the last set and the
    start of monitoring (the infusion start). Source: ``VITALS_INTERVAL_SOURCE``."""
    since = _aware(monitoring_since, "monitoring_since")
    rules = _policy(policy)
    reference = since
    if last_vitals_at is not None:
        reference = max(since, _aware(last_vitals_at, "last_vitals_at"))
    return reference + dt.timedelta(minutes=rules.vitals_interval_min)


def vitals_overdue(
    *,
    last_vitals_at: dt.datetime | None,
    monitoring_since: dt.datetime,
    now: dt.datetime,
    policy: MonitoringPolicy = DEFAULT_MONITORING,
) -> bool:
    """True once the interval has passed without vitals (strictly after the due time)."""
    due = vitals_due_at(
        last_vitals_at=last_vitals_at, monitoring_since=monitoring_since, policy=policy
    )
    return _aware(now, "now") > due


# -- gate 5: the override ceiling --------------------------------------------------------------
# docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" (item 5); the limits are
# the clinic's in-infusion alert settings (docs/clinical-sources.md §2.2).

#: The name the refusals start with, so each page names the gate that refused.
OVERRIDE_CEILING_GATE: Final = "Pre-check override ceiling"
_CEILING_PREFIX: Final = "no_start_today_"


def precheck_ceiling(
    *, vitals: Vitals, policy: MonitoringPolicy = DEFAULT_MONITORING
) -> tuple[Finding, ...]:
    """Pre-check readings past an in-infusion alert limit (SBP or DBP, HR, SpO2, RR, a new
    arrhythmia): no override may clear them and they block the start that day (gate 5).

    The codes start with ``no_start_today_`` (``is_ceiling``). Source: ``ALERT_SOURCE``.
    """
    rules = _policy(policy)
    found = vital_alerts(vitals=_vitals(vitals, "vitals"), baseline=None, policy=rules)
    return tuple(
        Finding(
            f"{_CEILING_PREFIX}{f.code}",
            f.field,
            f"{OVERRIDE_CEILING_GATE}: {f.message.split(':')[0].rstrip('.')}, past the "
            "in-infusion alert limit: no infusion today, and no override can allow it.",
            ALERT_SOURCE,
            f.value,
            f.threshold,
        )
        for f in found
    )


def is_ceiling(code: object) -> bool:
    """True for a finding code of ``precheck_ceiling``."""
    return isinstance(code, str) and code.startswith(_CEILING_PREFIX)
