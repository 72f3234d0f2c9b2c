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
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Final

from ketaclinic.clinical._validate import (
    require_bool,
    require_int,
    require_number,
    type_name,
)
from ketaclinic.clinical.dosing import DoseLimits, rate_limit_check, session_dose_check
from ketaclinic.clinical.gates import VITALS_BEFORE_DISCHARGE_MIN, VITALS_BEFORE_START_MIN
from ketaclinic.clinical.instruments import Score, score
from ketaclinic.clinical.ranges import RANGES_SOURCE, RECORDED_RANGES, VITAL_SIGNS

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
    "precheck",
    "precheck_ceiling",
    "sedation_alerts",
    "vital_alerts",
    "vitals_due_at",
    "vitals_gaps",
    "vitals_overdue",
]

# The sources below are shown to clinicians: they cite publications, never a file. Where each
# comes from: docs/clinical-policy.md "During the infusion [2.2, 2.3, 2.5]" (the defaults) and
# docs/clinical-sources.md §2.2, §2.3, §2.5 (the evidence); the plan rate and controlled-substance
# records follow docs/clinical-policy.md "Protocol templates [2.1, 1.3]" and
# docs/design.md "The journey (the spine of the product)" (steps 4 and 6).
_NO_GUIDELINE_LIMITS: Final = (
    "no guideline sets numeric vital-sign limits for ketamine infusions in chronic pain: these are "
    "values common in institutional protocols (not confirmed in a primary source; low confidence)"
)
_VITALS_EVIDENCE: Final = (
    "In 2342 infusions BP peaked at 40 min, by +16/+11 mmHg on average (Yale cohort, Gen Hosp "
    "Psychiatry 2024); BP measured every 10 min during infusion in 684 infusions (Dunlop, Emory "
    "cohort, J Affect Disord)"
)
_SCALES: Final = (
    "RASS: Sessler CN et al. Am J Respir Crit Care Med 2002; MOAA/S: Chernik DA et al. "
    "J Clin Psychopharmacol 1990"
)
_ALDRETE: Final = (
    "modified Aldrete score: Aldrete JA, Kroulik D. Anesth Analg 1970; Aldrete JA. J Clin Anesth "
    "1995"
)
MONITORING_SOURCE: Final = (
    "ketaclinic clinic policy defaults: defer if BP >= 160/100, HR > 110 or SpO2 < 94% before "
    "starting; vitals at least every 15 min; alert on SBP > 180 or DBP > 110 or a rise > 30% over "
    "baseline, HR > 120, SpO2 < 92%, RR < 10/min, RASS <= -3 or MOAA/S <= 2; discharge at modified "
    f"Aldrete >= 9 after at least 30 min of observation. The numbers: {_NO_GUIDELINE_LIMITS}. "
    f"{_VITALS_EVIDENCE}. {_SCALES}; {_ALDRETE}."
)
PRECHECK_SOURCE: Final = (
    "ketaclinic clinic policy defaults, before starting: defer if BP >= 160/100, resting HR > 110 "
    f"or SpO2 < 94% on room air; {_NO_GUIDELINE_LIMITS}. They rest on Cohen SP et al. 2018 "
    "(ASRA/AAPM/ASA consensus guidelines on IV ketamine for chronic pain, Reg Anesth Pain Med "
    "2018;43(5):521-546): do not use in poorly controlled cardiovascular disease. Fasting, escort, "
    "consent and the plan's dose: ketaclinic's pre-infusion checklist."
)
ALERT_SOURCE: Final = (
    "ketaclinic clinic policy defaults: alert and pause or slow on SBP > 180 or DBP > 110, or a "
    "rise > 30% over the patient's baseline; HR > 120 or a new arrhythmia; SpO2 < 92% sustained; "
    f"RR < 10/min; RASS <= -3 or MOAA/S <= 2; {_NO_GUIDELINE_LIMITS}. {_VITALS_EVIDENCE}. "
    f"{_SCALES}."
)
VITALS_INTERVAL_SOURCE: Final = (
    "ketaclinic clinic policy default: vitals (BP, HR, SpO2, RR) at least every 15 min. "
    f"{_VITALS_EVIDENCE}; UK hospital nursing guideline (RCHT v6.0, 2022): observations every "
    "15 min in the first hour."
)
# A "set" of vitals (gate 6: the cadence while infusing, after the stop, before discharge): the
# four signs the policy lists, charted together; one value alone (a pulse oximeter glance) is not
# a set. Source: ``VITALS_INTERVAL_SOURCE``. Blood pressure is named by its systolic half, which
# ``Vitals`` never takes without the diastolic.
VITALS_SET: Final = ("systolic_bp", "heart_rate", "spo2", "respiratory_rate")
DISCHARGE_SOURCE: Final = (
    f"Discharge: {_ALDRETE}: 9 or more allows discharge. ketaclinic clinic policy adds a "
    "responsible adult escort, no driving until the next day, and at least 30 min observation "
    "after the infusion ends (common practice norms, not confirmed in a primary source; medium "
    "confidence)."
)
PLAN_RATE_SOURCE: Final = (
    "The signed plan's ketamine protocol: the rate it computed is the most the pump may run at, "
    "within the clinic's hard dose limits (ketaclinic clinic policy)."
)
CONTROLLED_SUBSTANCE_SOURCE: Final = (
    "Ketamine is DEA Schedule III (openFDA NDC records); each session records lot, amount drawn, "
    "given and wasted, with a witness for waste (21 CFR 1304.22(c) records of dispensing; waste "
    "witnessed by a second licensed person is common practice)."
)
VITAL_LIMITS_SOURCE: Final = RANGES_SOURCE

#: Field -> (lowest, highest) accepted value, inclusive (``VITAL_LIMITS_SOURCE``): the vital
#: signs' rows of ``clinical.ranges.RECORDED_RANGES``, the one table the exam also reads.
VITAL_LIMITS: Final[Mapping[str, tuple[int, int]]] = {
    name: (int(RECORDED_RANGES[name][0]), int(RECORDED_RANGES[name][1])) for name in VITAL_SIGNS
}

# How much below the planned total still counts as "the planned dose has been given": the
# running total is a sum of rate x time in floating point, so an exact comparison could leave a
# hundredth of a milligram "still to give" forever. 0.01 mg is far below any pump's resolution.
_DOSE_REACHED_TOLERANCE_MG: Final = Fraction(1, 100)
_MINUTES_PER_HOUR: Final = 60


@dataclass(frozen=True)
class MonitoringPolicy:
    precheck_max_systolic_bp: int = 160
    precheck_max_diastolic_bp: int = 100
    precheck_max_heart_rate: int = 110
    precheck_min_spo2: int = 94
    alert_systolic_bp: int = 180
    alert_diastolic_bp: int = 110
    alert_bp_rise_percent: int = 30
    alert_heart_rate: int = 120
    alert_spo2: int = 92
    alert_respiratory_rate: int = 10
    alert_rass: int = -3
    alert_moaas: int = 2
    vitals_interval_min: int = 15
    discharge_min_aldrete: int = 9
    discharge_min_observation_min: int = 30


DEFAULT_MONITORING: Final = MonitoringPolicy()


@dataclass(frozen=True)
class Finding:
    """One rule that fired: what, on which field, why (message and source), and the figures."""

    code: str
    field: str
    message: str
    source: str
    value: float | None = None
    threshold: float | None = None


class PlanRateExceeded(ValueError):  # noqa: N818 - named like dosing.DoseLimitExceeded
    """A pump rate above the rate the signed plan computed."""


class PlannedDoseReached(ValueError):  # noqa: N818 - named like dosing.DoseLimitExceeded
    """A running infusion asked for after the plan's total dose has already been given."""


# -- validation --------------------------------------------------------------------------------


def _policy(value: object) -> MonitoringPolicy:
    if not isinstance(value, MonitoringPolicy):
        raise ValueError(f"policy must be a MonitoringPolicy, not {type_name(value)}")
    return value


def _aware(value: object, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{field} must be a datetime, not {type_name(value)} {value!r}")
    if value.utcoffset() is None:
        raise ValueError(f"{field} must carry a time zone (an aware datetime)")
    return value


def _exact(value: float) -> Fraction:
    """The decimal the number was entered as, exactly (see ``clinical.dosing``)."""
    return Fraction(Decimal(repr(float(value))))


def _show(value: float) -> str:
    return f"{value:g}"


# -- vital signs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vitals:
    """One set of vital signs; any may be absent except that blood pressure comes in pairs.

    Values outside ``VITAL_LIMITS`` and a diastolic at or above the systolic are refused with a
    ``ValueError`` naming the field: they are typing slips, and an alert rule must never see them.
    """

    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    new_arrhythmia: bool = False

    def __post_init__(self) -> None:
        for field, (lowest, highest) in VITAL_LIMITS.items():
            value = getattr(self, field)
            if value is not None:
                require_int(value, field, minimum=lowest, maximum=highest)
        require_bool(self.new_arrhythmia, "new_arrhythmia")
        if (self.systolic_bp is None) != (self.diastolic_bp is None):
            missing = "diastolic_bp" if self.diastolic_bp is None else "systolic_bp"
            raise ValueError(f"{missing} is required with the other blood-pressure value")
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and self.diastolic_bp >= self.systolic_bp
        ):
            raise ValueError(
                f"diastolic_bp {self.diastolic_bp} must be lower than systolic_bp "
                f"{self.systolic_bp}"
            )

    @property
    def is_empty(self) -> bool:
        return (
            self.systolic_bp is None
            and self.heart_rate is None
            and self.spo2 is None
            and self.respiratory_rate is None
            and not self.new_arrhythmia
        )

    @property
    def is_set(self) -> bool:
        """All the signs of ``VITALS_SET`` are here: the reading counts for gate 6."""
        return all(getattr(self, name) is not None for name in VITALS_SET)


def _vitals(value: object, field: str) -> Vitals:
    if not isinstance(value, Vitals):
        raise ValueError(f"{field} must be Vitals, not {type_name(value)}")
    return value


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
    if rass is not None:
        score("rass", {"level": rass})
        if rass <= rules.alert_rass:
            findings.append(
                Finding(
                    "rass_low",
                    "rass",
                    f"RASS {rass:+d} is at or below {rules.alert_rass:+d}: deep sedation, "
                    "stop or slow the infusion.",
                    ALERT_SOURCE,
                    rass,
                    rules.alert_rass,
                )
            )
    if moaas is not None:
        score("moaas", {"level": moaas})
        if moaas <= rules.alert_moaas:
            findings.append(
                Finding(
                    "moaas_low",
                    "moaas",
                    f"MOAA/S {moaas} is at or below {rules.alert_moaas}: deep sedation, "
                    "stop or slow the infusion.",
                    ALERT_SOURCE,
                    moaas,
                    rules.alert_moaas,
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


# -- administration ----------------------------------------------------------------------------


def infused_mg(segments: Sequence[tuple[float, float, float]]) -> float:
    """The amount given by constant-rate segments ``(start_min, end_min, rate_mg_per_h)``.

    Each segment gives rate x (end - start) / 60 mg. A segment that ends before it starts, a
    negative time or a negative rate raises ``ValueError`` naming the segment.
    """
    if isinstance(segments, str | bytes) or not isinstance(segments, Sequence):
        raise ValueError(f"segments must be a sequence, not {type_name(segments)}")
    total = 0.0
    for index, segment in enumerate(segments):
        field = f"segments[{index}]"
        if not isinstance(segment, tuple | list) or len(segment) != 3:
            raise ValueError(f"{field} must be (start_min, end_min, rate_mg_per_h)")
        start = require_number(segment[0], f"{field} start_min", minimum=0)
        end = require_number(segment[1], f"{field} end_min", minimum=start)
        rate = require_number(segment[2], f"{field} rate_mg_per_h", minimum=0)
        total += rate * (end - start) / _MINUTES_PER_HOUR
    return total


def infusion_rate_check(
    *,
    rate_mg_per_h: float,
    plan_rate_mg_per_h: float,
    given_mg: float,
    plan_total_mg: float,
    dosing_weight_kg: float,
    limits: DoseLimits,
) -> None:
    """Refuse a pump rate the session may not run at; return None when it may.

    - a negative or non-finite rate: ``ValueError`` naming ``rate_mg_per_h``;
    - past the clinic's hard limits (rate per kg, or a session total already past them):
      ``dosing.DoseLimitExceeded`` naming the limit (``clinical.dosing``);
    - above the signed plan's rate: ``PlanRateExceeded`` (``PLAN_RATE_SOURCE``);
    - a running rate (above 0) once the plan's total has been given: ``PlannedDoseReached``.

    A rate of 0 (paused) is always allowed so a pump can be stopped whatever happened before.
    """
    rate = float(require_number(rate_mg_per_h, "rate_mg_per_h", minimum=0))
    plan_rate = float(require_number(plan_rate_mg_per_h, "plan_rate_mg_per_h", minimum=0))
    given = float(require_number(given_mg, "given_mg", minimum=0))
    plan_total = float(require_number(plan_total_mg, "plan_total_mg", minimum=0))
    if rate == 0:
        return
    rate_limit_check(rate_mg_per_h=rate, dosing_weight_kg=dosing_weight_kg, limits=limits)
    session_dose_check(total_mg=given, dosing_weight_kg=dosing_weight_kg, limits=limits)
    if _exact(rate) > _exact(plan_rate):
        raise PlanRateExceeded(
            f"rate_mg_per_h {_show(rate)} mg/h is above the plan's rate of {_show(plan_rate)} "
            "mg/h; a faster rate needs a new plan signed by a physician"
        )
    if _exact(given) >= _exact(plan_total) - _DOSE_REACHED_TOLERANCE_MG:
        raise PlannedDoseReached(
            f"rate_mg_per_h: the plan's total of {_show(plan_total)} mg has been given "
            f"({given:.1f} mg); stop the infusion"
        )


def controlled_substance_check(
    *, drawn_mg: float, given_mg: float, wasted_mg: float, witnessed: bool
) -> None:
    """Reconcile a Schedule III record: drawn = given + wasted, exactly, and any waste witnessed.

    Raises ``ValueError`` naming the field. Source: ``CONTROLLED_SUBSTANCE_SOURCE``.
    """
    drawn = require_number(drawn_mg, "drawn_mg", minimum=0, min_exclusive=True)
    given = require_number(given_mg, "given_mg", minimum=0)
    wasted = require_number(wasted_mg, "wasted_mg", minimum=0)
    has_witness = require_bool(witnessed, "witness")
    if _exact(given) + _exact(wasted) != _exact(drawn):
        raise ValueError(
            f"wasted_mg: given {_show(given)} mg + wasted {_show(wasted)} mg = "
            f"{_show(float(_exact(given) + _exact(wasted)))} mg, but {_show(drawn)} mg was drawn; "
            "they must add up"
        )
    if wasted > 0 and not has_witness:
        raise ValueError("witness: a second nurse or physician must witness the waste")


# -- discharge ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DischargeCheck:
    """The discharge gate: ``ready`` only when nothing is ``missing``."""

    ready: bool
    missing: tuple[Finding, ...]
    aldrete: Score | None
    observed_min: float | None


def discharge_check(
    *,
    aldrete_answers: Mapping[str, object] | None,
    escort_confirmed: bool,
    infusion_ended_at: dt.datetime | None,
    now: dt.datetime,
    policy: MonitoringPolicy = DEFAULT_MONITORING,
) -> DischargeCheck:
    """May the patient go home? Every missing condition is named (source ``DISCHARGE_SOURCE``):

    - ``infusion_not_ended``: the infusion has not been stopped;
    - ``observation_short``: fewer than ``discharge_min_observation_min`` minutes since it ended;
    - ``aldrete_missing`` / ``aldrete_low``: no modified Aldrete score yet, or below the minimum
      (scored by ``clinical.instruments``, which refuses incomplete answers);
    - ``no_escort``: the responsible adult escort has not been confirmed.
    """
    rules = _policy(policy)
    current = _aware(now, "now")
    confirmed = require_bool(escort_confirmed, "escort_confirmed")
    missing: list[Finding] = []
    observed: float | None = None
    if infusion_ended_at is None:
        missing.append(
            Finding(
                "infusion_not_ended",
                "ended_at",
                "The infusion has not ended: stop it before discharge.",
                DISCHARGE_SOURCE,
            )
        )
    else:
        ended = _aware(infusion_ended_at, "infusion_ended_at")
        if ended > current:
            raise ValueError("infusion_ended_at must not be after now")
        observed = (current - ended).total_seconds() / 60
        if observed < rules.discharge_min_observation_min:
            left = rules.discharge_min_observation_min - observed
            missing.append(
                Finding(
                    "observation_short",
                    "ended_at",
                    f"Only {int(observed)} min since the infusion ended; at least "
                    f"{rules.discharge_min_observation_min} min of observation are needed "
                    f"({math.ceil(left)} min to go).",
                    DISCHARGE_SOURCE,
                    observed,
                    rules.discharge_min_observation_min,
                )
            )
    aldrete: Score | None = None
    if aldrete_answers is None:
        missing.append(
            Finding(
                "aldrete_missing",
                "aldrete",
                "No modified Aldrete score has been recorded since the infusion.",
                DISCHARGE_SOURCE,
                None,
                rules.discharge_min_aldrete,
            )
        )
    else:
        aldrete = score("aldrete", aldrete_answers)
        if aldrete.total < rules.discharge_min_aldrete:
            missing.append(
                Finding(
                    "aldrete_low",
                    "aldrete",
                    f"Modified Aldrete score {aldrete.total:g} is below "
                    f"{rules.discharge_min_aldrete}.",
                    DISCHARGE_SOURCE,
                    aldrete.total,
                    rules.discharge_min_aldrete,
                )
            )
    if not confirmed:
        missing.append(
            Finding(
                "no_escort",
                "escort_confirmed",
                "The responsible adult escort has not been confirmed.",
                DISCHARGE_SOURCE,
            )
        )
    return DischargeCheck(
        ready=not missing, missing=tuple(missing), aldrete=aldrete, observed_min=observed
    )


# -- gates along the journey: monitoring required, the override ceiling --------------------------
# docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" (items 5 and 6); the limits
# are the clinic's in-infusion alert settings and vitals interval (docs/clinical-sources.md §2.2).

#: The names the refusals start with, so each page names the gate that refused.
MONITORING_GATE: Final = "Monitoring required"
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


def baseline_vitals_missing(
    *,
    last_vitals_at: dt.datetime | None,
    start_at: dt.datetime,
    within_min: int = VITALS_BEFORE_START_MIN,
) -> Finding | None:
    """A baseline set of vitals must lie within ``within_min`` minutes before the start (gate 6);
    the finding when it does not, else None. Source: ``VITALS_INTERVAL_SOURCE``."""
    start = _aware(start_at, "start_at")
    window = require_int(within_min, "within_min", minimum=1)
    if last_vitals_at is not None:
        last = _aware(last_vitals_at, "last_vitals_at")
        if start - dt.timedelta(minutes=window) <= last <= start:
            return None
    return Finding(
        "baseline_vitals_missing",
        "vitals",
        f"{MONITORING_GATE}: no baseline vitals in the {window} min before the start; record a "
        "new pre-infusion check first.",
        VITALS_INTERVAL_SOURCE,
        None,
        window,
    )


def discharge_vitals_missing(
    *,
    last_vitals_at: dt.datetime | None,
    ended_at: dt.datetime,
    now: dt.datetime,
    within_min: int = VITALS_BEFORE_DISCHARGE_MIN,
) -> tuple[Finding, ...]:
    """Before discharge (gate 6): a set of vitals after the stop, and one within ``within_min``
    minutes before now. The findings that are missing (none: the gate holds)."""
    ended = _aware(ended_at, "ended_at")
    current = _aware(now, "now")
    window = require_int(within_min, "within_min", minimum=1)
    last = None if last_vitals_at is None else _aware(last_vitals_at, "last_vitals_at")
    missing: list[Finding] = []
    if last is None or last <= ended:
        missing.append(
            Finding(
                "vitals_after_stop_missing",
                "vitals",
                f"{MONITORING_GATE}: no vitals charted since the infusion stopped.",
                VITALS_INTERVAL_SOURCE,
            )
        )
    if last is None or last < current - dt.timedelta(minutes=window):
        missing.append(
            Finding(
                "vitals_before_discharge_missing",
                "vitals",
                f"{MONITORING_GATE}: no vitals in the last {window} min; take a set before "
                "discharge.",
                VITALS_INTERVAL_SOURCE,
                None,
                window,
            )
        )
    return tuple(missing)


@dataclass(frozen=True)
class VitalsGap:
    """A stretch of the infusion without vitals: from ``since`` to ``until``, ``minutes`` long."""

    since: dt.datetime
    until: dt.datetime
    minutes: float


def vitals_gaps(
    *,
    taken: Sequence[dt.datetime],
    started_at: dt.datetime,
    ended_at: dt.datetime,
    longer_than_min: float,
) -> tuple[VitalsGap, ...]:
    """The stretches between the start, each set of vitals charted while infusing, and the stop
    that last longer than ``longer_than_min`` minutes (gate 6: twice the interval needs a
    written reason at signing). Sets outside the infusion are ignored."""
    start = _aware(started_at, "started_at")
    end = _aware(ended_at, "ended_at")
    if end < start:
        raise ValueError("ended_at must not be before started_at")
    limit = float(require_number(longer_than_min, "longer_than_min", minimum=0))
    inside = sorted(t for t in (_aware(t, "taken") for t in taken) if start < t < end)
    marks = [start, *inside, end]
    gaps = []
    for since, until in itertools.pairwise(marks):
        minutes = (until - since).total_seconds() / 60
        if minutes > limit:
            gaps.append(VitalsGap(since, until, minutes))
    return tuple(gaps)
