"""Every clinic safety setting's default, floor and ceiling, and which changes need a second
physician: gate 9, "Safety settings within bounds".

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" (item 9). One table,
``SETTINGS``, holds the bounds of every threshold a clinic may edit; the settings form, the
service that saves a version and the approval rule all read it, so a bound is written once.
Defaults are not repeated: they are the clinical dataclasses' (``EligibilityPolicy``,
``DoseLimits``, ``MonitoringPolicy``) and the constants of ``clinical.gates``.

Three kinds of bound:

- Policy floors and ceilings (item 9): dose limits at most 2.0 mg/kg/h, 3.0 mg/kg and 300 mg per
  session (product ceilings, well above the shipped protocols); a modified Aldrete score of at
  least 9 and at least 30 minutes of observation before discharge (docs/clinical-sources.md
  §2.5); vitals at least every 15 minutes (docs/clinical-sources.md §2.2); no patient under 18
  (docs/clinical-policy.md "Eligibility for ketamine infusion [1.2, 1.5, 2.2]").
- The gates' own settings, whose ranges ``clinical.gates`` states.
- Plausibility bounds for the rest: ketaclinic's choice, to catch typing slips (an extra zero,
  mmHg typed into a percentage) and values that would switch a check off, while leaving every
  value a clinic could reasonably choose.

A protocol's infusion duration is bounded the same way (``INFUSION_DURATION_MIN_RANGE``,
product: 10 to 480 minutes).

Which changes take effect only when a second physician approves them (item 9): raising a dose
limit above its default, and any change to a discharge or monitoring value. ketaclinic counts as
monitoring values the vitals interval and every alert threshold during the infusion: the
evidence treats monitoring frequency and the hold/stop limits together
(docs/clinical-sources.md §2.2), and an alert limit moved the wrong way silences the check the
interval exists for. The pre-infusion (defer) thresholds are not monitoring values: a physician
already decides on a failed pre-check at the chair (gate 5).

Pure Python: no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from ketaclinic.clinical import gates
from ketaclinic.clinical._validate import is_number, is_strict_int, type_name
from ketaclinic.clinical.dosing import DEFAULT_LIMITS
from ketaclinic.clinical.eligibility import EligibilityPolicy
from ketaclinic.clinical.monitoring import (
    DEFAULT_MONITORING,
    DISCHARGE_SOURCE,
    VITALS_INTERVAL_SOURCE,
)

__all__ = [
    "AGE_SOURCE",
    "APPROVAL_SOURCE",
    "DURATION_SOURCE",
    "GATES_SOURCE",
    "INFUSION_DURATION_MIN_RANGE",
    "PLAUSIBILITY_SOURCE",
    "PRODUCT_CEILING_SOURCE",
    "RECOVERY_MIN",
    "SETTINGS",
    "Approval",
    "SettingBounds",
    "changes_needing_approval",
    "infusion_duration_check",
    "needs_second_approval",
    "setting_check",
]

# What a clinician reads beside a bound: publications, never a file.
PRODUCT_CEILING_SOURCE: Final = (
    "ketaclinic product ceiling, not a guideline's: it catches typing errors and outliers, and "
    "the shipped protocols (Tankha 2025; Schwartzman 2009; Cohen 2018) stay well inside it."
)
PLAUSIBILITY_SOURCE: Final = (
    "Plausibility bound chosen for ketaclinic: it catches typing slips and values that would "
    "switch a check off; no guideline sets it."
)
AGE_SOURCE: Final = (
    "An adult service: age under 18 is a hard stop (Cohen SP et al. 2018, ASRA/AAPM/ASA "
    "consensus guidelines on IV ketamine for chronic pain, Reg Anesth Pain Med 2018;43(5):521-546)."
)
GATES_SOURCE: Final = (
    "ketaclinic clinic policy for the checks asked again along the journey (measured weight, dose "
    "given, charted times): the range a clinic may choose within."
)
DURATION_SOURCE: Final = (
    "ketaclinic product bounds for one infusion: 10 to 480 minutes. Published outpatient "
    "protocols run from 40 minutes (Tankha 2025) to 4 hours (Schwartzman 2009)."
)
APPROVAL_SOURCE: Final = (
    "ketaclinic clinic policy: raising a dose limit above its default, or changing a discharge or "
    "monitoring value, takes effect only when a second physician approves it."
)

#: Chair time kept after each infusion when booking a series, minutes (product default: the
#: 30-60 min recovery of common practice, docs/clinical-sources.md §2.5, at its upper end).
RECOVERY_MIN: Final = 60

#: A protocol's infusion duration, minutes, inclusive (product; docs/clinical-policy.md
#: "Gates along the journey (added 2026-12-03)" item 9).
INFUSION_DURATION_MIN_RANGE: Final = (10, 480)

#: "none": takes effect at once; "raise": a second physician approves a value above both the
#: default and the value in force; "change": a second physician approves any change.
Approval = Literal["none", "raise", "change"]


@dataclass(frozen=True)
class SettingBounds:
    """One setting: its default, the floor and ceiling a clinic cannot pass (inclusive), whether
    it is a whole number, what a change needs, and where the bounds come from."""

    name: str
    default: int | float
    floor: int | float
    ceiling: int | float
    source: str
    integer: bool = True
    approval: Approval = "none"


_ELIGIBILITY: Final = EligibilityPolicy()


def _eligibility(
    name: str, floor: int, ceiling: int, source: str = PLAUSIBILITY_SOURCE
) -> SettingBounds:
    return SettingBounds(name, getattr(_ELIGIBILITY, name), floor, ceiling, source)


def _dose(name: str, floor: float, ceiling: float) -> SettingBounds:
    # docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" item 9: product ceilings.
    return SettingBounds(
        name,
        getattr(DEFAULT_LIMITS, name),
        floor,
        ceiling,
        PRODUCT_CEILING_SOURCE,
        integer=False,
        approval="raise",
    )


def _monitoring(
    name: str,
    floor: int,
    ceiling: int,
    source: str = PLAUSIBILITY_SOURCE,
    approval: Approval = "none",
) -> SettingBounds:
    return SettingBounds(
        name, getattr(DEFAULT_MONITORING, name), floor, ceiling, source, approval=approval
    )


def _gate(
    name: str, default: float, bounds: tuple[float, float], *, integer: bool = True
) -> SettingBounds:
    return SettingBounds(name, default, bounds[0], bounds[1], GATES_SOURCE, integer=integer)


_TABLE: Final[tuple[SettingBounds, ...]] = (
    # Eligibility; the age floor from docs/clinical-policy.md
    # "Eligibility for ketamine infusion [1.2, 1.5, 2.2]".
    _eligibility("min_age_years", 18, 100, AGE_SOURCE),
    _eligibility("crisis_systolic_bp", 120, 260),
    _eligibility("crisis_diastolic_bp", 70, 160),
    _eligibility("elevated_systolic_bp", 100, 260),
    _eligibility("elevated_diastolic_bp", 60, 160),
    _eligibility("max_heart_rate", 60, 200),
    _eligibility("min_spo2", 80, 100),
    SettingBounds(
        "chronic_pain_months",
        _ELIGIBILITY.chronic_pain_months,
        0,
        24,
        PLAUSIBILITY_SOURCE,
        integer=False,
    ),
    _eligibility("first_line_classes_required", 0, 3),
    _gate(
        "eligibility_valid_months",
        gates.ELIGIBILITY_VALID_MONTHS,
        gates.ELIGIBILITY_VALID_MONTHS_RANGE,
    ),
    # Dose limits: docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" item 9.
    _dose("max_rate_mg_per_kg_h", 0.01, 2.0),
    _dose("max_session_mg_per_kg", 0.01, 3.0),
    _dose("max_session_mg", 1.0, 300.0),
    # Before the infusion (defer): plausibility only; a physician decides at the chair (gate 5).
    _monitoring("precheck_max_systolic_bp", 100, 260),
    _monitoring("precheck_max_diastolic_bp", 60, 160),
    _monitoring("precheck_max_heart_rate", 60, 200),
    _monitoring("precheck_min_spo2", 80, 100),
    # Alerts during the infusion: monitoring values (docs/clinical-sources.md §2.2).
    _monitoring("alert_systolic_bp", 100, 260, approval="change"),
    _monitoring("alert_diastolic_bp", 60, 160, approval="change"),
    _monitoring("alert_bp_rise_percent", 5, 100, approval="change"),
    _monitoring("alert_heart_rate", 60, 220, approval="change"),
    _monitoring("alert_spo2", 80, 100, approval="change"),
    _monitoring("alert_respiratory_rate", 4, 20, approval="change"),
    _monitoring("alert_rass", -5, 0, approval="change"),
    _monitoring("alert_moaas", 0, 4, approval="change"),
    # At most every 15 minutes: docs/clinical-sources.md §2.2.
    _monitoring("vitals_interval_min", 5, 15, VITALS_INTERVAL_SOURCE, "change"),
    # Discharge: Aldrete >= 9 and >= 30 min observation, docs/clinical-sources.md §2.5.
    _monitoring("discharge_min_aldrete", 9, 10, DISCHARGE_SOURCE, "change"),
    _monitoring("discharge_min_observation_min", 30, 480, DISCHARGE_SOURCE, "change"),
    SettingBounds("recovery_min", RECOVERY_MIN, 0, 480, PLAUSIBILITY_SOURCE),
    # The gates' settings: ranges from clinical.gates.
    _gate(
        "exam_weight_max_age_days",
        gates.EXAM_WEIGHT_MAX_AGE_DAYS,
        gates.EXAM_WEIGHT_MAX_AGE_DAYS_RANGE,
    ),
    _gate("weight_change_percent", gates.WEIGHT_CHANGE_PERCENT, gates.WEIGHT_CHANGE_PERCENT_RANGE),
    _gate(
        "pump_resolution_ml_h",
        gates.PUMP_RESOLUTION_ML_H,
        gates.PUMP_RESOLUTION_ML_H_RANGE,
        integer=False,
    ),
    _gate(
        "dose_deviation_percent",
        gates.DOSE_DEVIATION_PERCENT,
        gates.DOSE_DEVIATION_PERCENT_RANGE,
        integer=False,
    ),
    _gate("draw_max_factor", gates.DRAW_MAX_FACTOR, gates.DRAW_MAX_FACTOR_RANGE, integer=False),
    _gate("backdate_max_min", gates.BACKDATE_MAX_MIN, gates.BACKDATE_MAX_MIN_RANGE),
)

#: Setting name -> its bounds, in the settings page's order.
SETTINGS: Final[Mapping[str, SettingBounds]] = MappingProxyType({b.name: b for b in _TABLE})


def _show(value: float) -> str:
    return f"{value:g}"


def _bounds(name: object) -> SettingBounds:
    if not isinstance(name, str) or name not in SETTINGS:
        raise ValueError(f"name: unknown setting {name!r}")
    return SETTINGS[name]


def setting_check(name: str, value: object) -> int | float:
    """``value`` as the setting stores it (an ``int`` for whole-number settings), or
    ``ValueError`` naming the setting when it is not a number or lies outside its bounds."""
    bounds = _bounds(name)
    if not is_number(value):
        raise ValueError(f"{name}: expected a number, got {type_name(value)} {value!r}")
    number: int | float = value
    if bounds.integer:
        if not float(value).is_integer():
            raise ValueError(f"{name}: expected a whole number, got {_show(value)}")
        number = int(value)
    else:
        number = float(value)
    if not bounds.floor <= number <= bounds.ceiling:
        raise ValueError(
            f"{name}: must be between {_show(bounds.floor)} and {_show(bounds.ceiling)}, "
            f"got {_show(number)}"
        )
    return number


def needs_second_approval(name: str, old: float, new: float) -> bool:
    """Whether changing setting ``name`` from ``old`` (in force) to ``new`` waits for a second
    physician (``APPROVAL_SOURCE``). Lowering a dose limit, or raising it no higher than its
    default, takes effect at once: it can only make dosing safer or restore the default."""
    bounds = _bounds(name)
    if new == old or bounds.approval == "none":
        return False
    if bounds.approval == "raise":
        return new > old and new > bounds.default
    return True


def changes_needing_approval(old: Mapping[str, float], new: Mapping[str, float]) -> tuple[str, ...]:
    """The settings of ``new`` whose change from ``old`` waits for a second physician, in table
    order. Every name of ``new`` must be a setting and have a value in ``old``."""
    for name in new:
        _bounds(name)
        if name not in old:
            raise ValueError(f"{name}: no value in force to compare with")
    return tuple(
        name
        for name in SETTINGS
        if name in new and needs_second_approval(name, old[name], new[name])
    )


def infusion_duration_check(duration_min: object) -> int:
    """A protocol's infusion duration in whole minutes within ``INFUSION_DURATION_MIN_RANGE``,
    or ``ValueError`` naming ``duration_min`` (``DURATION_SOURCE``)."""
    low, high = INFUSION_DURATION_MIN_RANGE
    if not is_strict_int(duration_min):
        raise ValueError(
            f"duration_min: expected whole minutes, got {type_name(duration_min)} {duration_min!r}"
        )
    if not low <= duration_min <= high:
        raise ValueError(
            f"duration_min: must be between {low} and {high} minutes, got {duration_min}"
        )
    return duration_min
